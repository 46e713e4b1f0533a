# `make demo` and `make test` do all the set-up themselves (tools/setup_env.sh: .venv/ with the
# pinned OpenMMLab stack; the first time 20-35 min, mostly compiling mmcv's ops; then seconds).
PY := .venv/bin/python

.PHONY: setup demo test bench
setup:
	bash tools/setup_env.sh

demo: setup
	$(PY) tools/demo_norms.py
	$(PY) tools/demo.py

test: setup
	$(PY) -m pytest tests

bench: setup
	$(PY) benchmarks/bench_norms.py
	$(PY) benchmarks/bench_generators.py
