# `make demo` and `make test` do all the set-up themselves (tools/setup_env.sh: .venv/ with the
# pinned OpenMMLab stack; the first time 20-35 min, mostly compiling mmcv's ops; then seconds).
PY := .venv/bin/python

.PHONY: setup demo test bench paint
setup:
	bash tools/setup_env.sh

demo: setup
	$(PY) tools/demo_norms.py
	$(PY) tools/demo.py

# setup_browser.sh installs Debian's Chromium for the painter's browser test (root only).
test: setup
	bash tools/setup_browser.sh
	$(PY) -m pytest tests

# PUBLISHED_CODE=DIR (a checkout of the published CLADE repository), PUBLISHED_INADE_CODE=DIR
# (of the published INADE one; `git archive HEAD data models options util` of it is enough) and
# PUBLISHED_SEAN_CODE=DIR (of the published SEAN one, likewise) and PUBLISHED_OASIS_CODE=DIR (of
# the published OASIS one; `git archive HEAD models` is enough) time their generators too.
bench: setup
	$(PY) benchmarks/bench_norms.py
	$(PY) benchmarks/bench_generators.py $(if $(PUBLISHED_CODE),--published-code $(PUBLISHED_CODE)) \
		$(if $(PUBLISHED_INADE_CODE),--published-inade-code $(PUBLISHED_INADE_CODE)) \
		$(if $(PUBLISHED_SEAN_CODE),--published-sean-code $(PUBLISHED_SEAN_CODE)) \
		$(if $(PUBLISHED_OASIS_CODE),--published-oasis-code $(PUBLISHED_OASIS_CODE))

# The painter (tools/paint.py) on http://127.0.0.1:8765/ with the demo's CLADE; on a fresh clone
# it trains the demo's models first (`make demo`). Other models: make paint PAINT_ARGS="CONFIG
# CHECKPOINT [--compare CONFIG2 CHECKPOINT2] [--port N]".
paint: setup
	@if [ -z "$(PAINT_ARGS)" ] && [ ! -f work_dirs/demo/clade/last_checkpoint ]; then \
		echo "[paint] no demo model yet: running make demo first (about 30 minutes)"; \
		$(MAKE) demo; \
	fi
	$(PY) tools/paint.py $(PAINT_ARGS)
