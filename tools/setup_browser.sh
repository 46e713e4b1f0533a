#!/usr/bin/env bash
# Debian's Chromium for the painter's browser test (tests/test_apps/test_paint_browser.py),
# called by `make test`. Installs it when it is missing and this runs as root (CI, a fresh
# machine); otherwise it says why not, and the test skips with the same reason. Playwright
# drives this browser (/usr/bin/chromium); no browser is downloaded at run time.
set -euo pipefail

say() { printf '[setup_browser] %s\n' "$*" >&2; }

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    say "chromium is missing and this is not root: the browser test will skip" \
        "(install it with: sudo apt-get install chromium)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    say "chromium is missing and there is no apt-get: install Chromium as /usr/bin/chromium" \
        "to run the browser test"
    exit 0
fi
say "installing Debian's chromium for the browser test (under a minute)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Recommended packages included: they bring the fonts the page's text is drawn with.
apt-get install -y -qq chromium >/dev/null
say "$(chromium --version)"
