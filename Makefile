# Set-up is part of every target: `make demo` and `make test` create .venv themselves.
#
# quickfix ships no wheels, and the PyPI sdist compiles without TLS. ceguard serves FIX over
# TLS, so the Makefile builds quickfix 1.16.0 with HAVE_SSL and ceguard's patches
# (deploy/quickfix/patch_quickfix.py) once, into a cache directory outside the repo, and
# installs that wheel before ceguard: ~5-8 min on 2 cores the first time (needs a C++
# compiler and the OpenSSL headers, e.g. Debian's libssl-dev), seconds afterwards. The cache is our own
# because pip's would hand back the stock (no-TLS) wheel of the same name.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SAMPLE := engine/data

QUICKFIX := quickfix==1.16.0
CEGUARD_CACHE ?= $(HOME)/.cache/ceguard
PYTAG := $(shell $(PYTHON) -c 'import sys, sysconfig; print(sys.implementation.cache_tag + "-" + sysconfig.get_platform())')
# The patch's hash is in the name: a changed patch builds a new wheel.
QF_PATCH := $(shell $(PYTHON) -c 'import hashlib; print(hashlib.sha256(open("deploy/quickfix/patch_quickfix.py", "rb").read()).hexdigest()[:12])')
QF_WHEELS := $(CEGUARD_CACHE)/quickfix-1.16.0-ssl-$(QF_PATCH)-$(PYTAG)
QF_STAMP := $(QF_WHEELS)/.built
# CXXFLAGS is what setuptools compiles C++ with, and it replaces the default -O3 (without
# it the build is 5x slower at run time). --no-as-needed keeps libssl/libcrypto linked.
QF_BUILD_ENV := CFLAGS="-O3 -DHAVE_SSL=1" CXXFLAGS="-O3 -DHAVE_SSL=1" \
	LDFLAGS="-Wl,--no-as-needed -lssl -lcrypto"

.PHONY: demo test bench bench-live sample clean quickfix-ssl

$(QF_STAMP):
	rm -rf $(QF_WHEELS).tmp && mkdir -p $(QF_WHEELS).tmp
	$(PYTHON) -m pip download --quiet --no-deps --no-binary :all: $(QUICKFIX) \
		--dest $(QF_WHEELS).tmp
	tar -xzf $(QF_WHEELS).tmp/quickfix-1.16.0.tar.gz -C $(QF_WHEELS).tmp
	$(PYTHON) deploy/quickfix/patch_quickfix.py $(QF_WHEELS).tmp/quickfix-1.16.0
	$(QF_BUILD_ENV) $(PYTHON) -m pip wheel --quiet --no-cache-dir --no-deps \
		--wheel-dir $(QF_WHEELS).tmp $(QF_WHEELS).tmp/quickfix-1.16.0
	rm -rf $(QF_WHEELS).tmp/quickfix-1.16.0 $(QF_WHEELS).tmp/quickfix-1.16.0.tar.gz
	rm -rf $(CEGUARD_CACHE)/quickfix-1.16.0-ssl-*-$(PYTAG)  # wheels of older patches
	mv $(QF_WHEELS).tmp $(QF_WHEELS)
	touch $@

quickfix-ssl: $(QF_STAMP)

$(STAMP): pyproject.toml $(QF_STAMP)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --force-reinstall --no-deps $(QF_WHEELS)/quickfix-1.16.0-*.whl
	$(PY) deploy/quickfix/check_tls.py
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

# tests/test_jspurefix.py runs an independent FIX engine (npm jspurefix) against serve:
# installed from the committed lock file. Its install script only unpacks dictionaries the
# peer does not use (it uses the QuickFIX-format ones the package ships unpacked).
JSPUREFIX_PEER := tests/peers/jspurefix
JSPUREFIX_STAMP := $(JSPUREFIX_PEER)/node_modules/.installed-stamp

$(JSPUREFIX_STAMP): $(JSPUREFIX_PEER)/package.json $(JSPUREFIX_PEER)/package-lock.json
	cd $(JSPUREFIX_PEER) && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

test: $(JSPUREFIX_STAMP)

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
