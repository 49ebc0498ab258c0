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
	touch $(STAMP)

demo: $(STAMP)
	@echo "== ceguard check: a 2x fund, reference 100.00, printing at 94.00 (RULES.md 8.5)"
	$(PY) -m engine check --reference-price 100 --price 94 --leverage 2
	@echo
	@echo "== ceguard replay: the shipped sample day, flagged records only"
	$(PY) -m engine replay $(SAMPLE)/sample_dropcopy.log.gz \
		--instruments $(SAMPLE)/sample_instruments.csv --only-flagged --format text

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/replay.py

# Regenerate the shipped sample (deterministic: same seed, same bytes).
sample: $(STAMP)
	$(PY) -m engine.sim.dropcopy --matches 3000 --symbols 400 \
		--log $(SAMPLE)/sample_dropcopy.log.gz --instruments $(SAMPLE)/sample_instruments.csv \
		--bad-lines

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
