#!/usr/bin/env bash
# Create or reuse .venv/ at the repository root with the pinned OpenMMLab stack and clade-mm.
#
# Idempotent: a stamp records a hash of every file that decides what is installed, so a second
# run on the same machine checks the stamp and returns in a second. Safe to run concurrently
# (a lock serialises installs).
#
# Why it is more than `pip install -r`:
#   * torch: the machine's pip configuration points at a local CPU build of torch 2.13.0, but
#     torchvision 0.28.0 (needed by mmagic) only imports beside the registry's build of torch
#     2.13.0. pip therefore runs with the machine's configuration switched off.
#   * every wheel is kept per machine in a wheelhouse, $CLADE_MM_WHEEL_CACHE (default
#     ~/.cache/clade-mm/wheels): the registry's answers are not cacheable here, and torch with its
#     CUDA libraries is several GB, so a fresh clone installs from local files.
#   * mmcv: PyPI has only the sdist of mmcv 2.1.0; its compiled ops take ~15-25 min on 2 cores.
#     The built wheel goes to the wheelhouse too, under the torch it was built against.
#   * mmagic: installed with --no-deps; requirements/runtime.txt lists what it needs to import.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
py="$venv/bin/python"
stamp="$venv/.clade_mm_installed"
constraints="$root/requirements/constraints.txt"
wheel_cache="${CLADE_MM_WHEEL_CACHE:-$HOME/.cache/clade-mm/wheels}"
base_python="${PYTHON:-python3}"

say() { printf '[setup_env] %s\n' "$*" >&2; }

fingerprint() {
    cat "$root"/requirements/*.txt "$root/setup.py" "$root/pyproject.toml" "$root/tools/setup_env.sh" "$root"/clade_mm/ops/csrc/* | sha256sum | cut -d' ' -f1
}

want="$(fingerprint)"
if [ -x "$py" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

mkdir -p "$venv"
exec 9>"$venv/.lock"
if ! flock -n 9; then
    say "another install is running; waiting for its lock ($venv/.lock)"
    flock 9
fi
# Another process may have finished the install while we waited.
if [ -x "$py" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
rm -f "$stamp"

# The registry's torch, not the machine's local CPU wheel (see the header).
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_INDEX_URL PIP_NO_INDEX
export PIP_CONFIG_FILE=/dev/null
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -x "$py" ]; then
    say "creating $venv with $($base_python --version 2>&1)"
    "$base_python" -m venv "$venv"
fi
mkdir -p "$wheel_cache"
# Install from the wheelhouse alone; fetch into it first what it lacks.
pip_install() {
    if ! "$py" -m pip install -q --no-index --find-links "$wheel_cache" -c "$constraints" "$@" \
            >/dev/null 2>&1; then
        say "downloading into $wheel_cache: $*"
        "$py" -m pip wheel --progress-bar off -q --find-links "$wheel_cache" -c "$constraints" \
            -w "$wheel_cache" "$@"
        "$py" -m pip install -q --no-index --find-links "$wheel_cache" -c "$constraints" "$@"
    fi
}

say "1/5 build tools and torch/torchvision (first time: ~5 min, several GB)"
pip_install setuptools wheel ninja
pip_install torch torchvision

say "2/5 mmcv with compiled ops"
torch_tag="$("$py" -c 'import sys, torch; print("torch%s-cp%d%d" % (torch.__version__.split("+")[0], *sys.version_info[:2]))')"
mmcv_version="$(sed -n 's/^mmcv==//p' "$constraints")"
cache_dir="$wheel_cache/mmcv-$torch_tag"
mkdir -p "$cache_dir"
mmcv_wheel="$(ls "$cache_dir"/mmcv-"$mmcv_version"-*.whl 2>/dev/null | head -n 1 || true)"
if [ -z "$mmcv_wheel" ]; then
    say "no cached mmcv $mmcv_version wheel for $torch_tag in $cache_dir: building it once"
    say "(compiles mmcv's CPU ops; ~25 min on 2 cores)"
    pip_install addict mmengine numpy opencv-python packaging Pillow pyyaml yapf
    build_dir="$(mktemp -d "$cache_dir/.build.XXXXXX")"
    MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
        "$py" -m pip wheel --progress-bar off --no-deps --no-build-isolation --no-binary mmcv \
        -c "$constraints" -w "$build_dir" "mmcv==$mmcv_version"
    # Move into place only when complete, so an interrupted build leaves no half wheel behind.
    built="$(ls "$build_dir"/mmcv-*.whl)"
    mv "$built" "$cache_dir/"
    rm -rf "$build_dir"
    mmcv_wheel="$cache_dir/$(basename "$built")"
fi
say "installing $mmcv_wheel"
"$py" -m pip install -q --no-deps "$mmcv_wheel"

say "3/5 OpenMMLab stack and what mmagic needs to import"
pip_install -r "$root/requirements/runtime.txt" -r "$root/requirements/export.txt" \
    -r "$root/requirements/paint.txt" -r "$root/requirements/tests.txt"
pip_install --no-deps mmagic

say "4/5 clade-mm itself (editable)"
"$py" -m pip install -q --no-deps --no-build-isolation -e "$root"

say "5/5 checking the stack imports"
"$py" - <<'PY'
import mmcv.ops  # noqa: F401  (compiled ops present)
import mmseg.models  # noqa: F401
import mmagic.models  # noqa: F401
import clade_mm
import torch, mmcv, mmengine, mmseg, mmagic
print(f'[setup_env] torch {torch.__version__}, mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, '
      f'mmseg {mmseg.__version__}, mmagic {mmagic.__version__}, clade_mm {clade_mm.__version__}')
PY
echo "$want" > "$stamp"
say "done"
