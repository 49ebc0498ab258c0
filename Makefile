# Set-up is part of every target: `make demo` and `make test` create .venv themselves.
# quickfix ships no wheels and compiles for ~6-8 minutes the first time; pip caches the
# built wheel, so later set-ups take seconds.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SAMPLE := engine/data

.PHONY: demo test bench sample clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m compileall -q engine
	touch $(STAMP)

# The live path on the shipped defaults: serve + simulate, then flags, busts and metrics.
demo: $(STAMP)
	$(PY) -m engine.sim.demo

test: $(STAMP)
	$(PY) -m pytest

# An editable install leaves the package's bytecode to the first import, and with
# PYTHONDONTWRITEBYTECODE set every `ceguard` start would compile its sources (~30 ms).
bench: $(STAMP)
	$(PY) -m compileall -q engine
	$(PY) benchmarks/replay.py

# Regenerate the shipped sample (deterministic: same seed, same bytes).
sample: $(STAMP)
	$(PY) -m engine.sim.dropcopy --matches 3000 --symbols 400 \
		--log $(SAMPLE)/sample_dropcopy.log.gz --instruments $(SAMPLE)/sample_instruments.csv \
		--bad-lines

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
