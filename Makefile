# clipsim: `make demo` and `make test` create the virtual environment when needed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv demo test test-slow mutate bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,dask,frames]"
	$(PY) -c "from clipsim import engine; print(f'clipsim kernels compiled/loaded in {engine.warmup():.1f} s')"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m experiments.demo

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

# Mutation testing of the decision modules (CPU-heavy: about an hour on 2 cores; docs/testing.md).
mutate: $(STAMP)
	$(PY) -m pip install --quiet -e ".[mutate]"
	PY=$(PY) bash tools/mutate.sh

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) build *.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +
