# Set-up is part of every target: `make demo` and `make test` create .venv themselves.
# quickfix ships no wheels and compiles for ~6-8 minutes the first time; pip caches the
# built wheel, so later set-ups take seconds.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SAMPLE := engine/data

.PHONY: demo test bench bench-live sample clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m compileall -q engine
	touch $(STAMP)

# The live path on the shipped defaults: serve + simulate, then flags, busts and metrics.
demo: $(STAMP)
	$(PY) -m engine.sim.demo

# The console test drives a real headless Chromium: Debian's package (Playwright's own
# browser downloads are never used).
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	apt-get install -y chromium || (apt-get update && apt-get install -y chromium)

test: $(STAMP) $(CHROMIUM)
	$(PY) -m pytest

# An editable install leaves the package's bytecode to the first import, and with
# PYTHONDONTWRITEBYTECODE set every `ceguard` start would compile its sources (~30 ms).
bench: $(STAMP)
	$(PY) -m compileall -q engine
	$(PY) benchmarks/replay.py

# The live path (serve vs a bare QuickFIX acceptor, latency, memory, start-up): ~10 min.
bench-live: $(STAMP)
	$(PY) benchmarks/live.py

# Regenerate the shipped sample (deterministic: same seed, same bytes).
sample: $(STAMP)
	$(PY) -m engine.sim.dropcopy --matches 3000 --symbols 400 \
		--log $(SAMPLE)/sample_dropcopy.log.gz --instruments $(SAMPLE)/sample_instruments.csv \
		--bad-lines

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
