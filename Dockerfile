# ceguard container image.
#
#   docker build -t ceguard:0.1.0 .          (first build: ~8 min, needs ~3 GB RAM; see deploy/README.md)
#   docker run -p 9878:9878 -p 9879:9879 -v ceguard-state:/var/lib/ceguard ceguard:0.1.0
#
# Two stages on the same base (so the wheel compiled in the builder is ABI-compatible with
# the runtime's Python):
#   builder  compiles the quickfix wheel once (PyPI quickfix==1.16.0 is sdist-only: ~5 min,
#            ~2.2 GB peak RAM, g++), with TLS (HAVE_SSL, OpenSSL) and ceguard's patches
#            (deploy/quickfix/patch_quickfix.py), as the Makefile does, and installs ceguard
#            and its dependencies into /opt/venv.
#   runtime  slim, no compilers; copies /opt/venv, runs as the non-root user `ceguard`.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# g++/make for the quickfix extension, and the OpenSSL headers for its TLS. The official
# python images already carry the Python headers (/usr/local/include/python3.11).
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libssl-dev \
 && rm -rf /var/lib/apt/lists/*

# The quickfix wheel, in a layer of its own: it depends only on the patch script, so editing
# ceguard's sources never recompiles it. CXXFLAGS is what setuptools compiles C++ with and
# replaces the default -O3; --no-as-needed keeps libssl/libcrypto linked (FIX_NOTES 1.10).
COPY deploy/quickfix/patch_quickfix.py deploy/quickfix/check_tls.py /build/
RUN pip download --no-deps --no-binary :all: --dest /build quickfix==1.16.0 \
 && tar -xzf /build/quickfix-1.16.0.tar.gz -C /build \
 && python /build/patch_quickfix.py /build/quickfix-1.16.0 \
 && CFLAGS="-O3 -DHAVE_SSL=1" CXXFLAGS="-O3 -DHAVE_SSL=1" \
    LDFLAGS="-Wl,--no-as-needed -lssl -lcrypto" \
    pip wheel --no-deps --wheel-dir /wheels /build/quickfix-1.16.0 \
 && rm -rf /build/quickfix-1.16.0 /build/quickfix-1.16.0.tar.gz

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv
# Built with -O3 and no -g, the extension carries no debug info; strip any that is left (the
# wheel's RECORD hash of the .so no longer matches afterwards; nothing checks it at run time).
# check_tls.py fails the build if the installed quickfix has no TLS.
RUN pip install --upgrade pip \
 && pip install /wheels/quickfix-1.16.0-*.whl \
 && find /opt/venv -name '_quickfix*.so' -exec strip --strip-debug {} + \
 && python /build/check_tls.py \
 && rm -rf /build

# ceguard itself (a regular, non-editable install). quickfix==1.16.0 is already satisfied by
# the wheel above, so pip does not fetch the sdist again. README.md is needed: pyproject.toml
# names it as the package's readme.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY engine ./engine
# The check after it fails the build if a subpackage of engine/ was not installed (setuptools
# installs only the packages pyproject.toml's [tool.setuptools] finds; an editable dev install
# hides a miss). It
# runs from / so that /src is not on sys.path.
RUN pip install /src \
 && pip check \
 && cd / \
 && python -c "import pathlib, importlib.util as u; src = pathlib.Path('/src/engine'); names = ['.'.join(('engine',) + p.parent.relative_to(src).parts) for p in sorted(src.rglob('__init__.py'))]; missing = [n for n in names if u.find_spec(n) is None]; assert not missing, 'not installed, check [tool.setuptools] packages in pyproject.toml: ' + ', '.join(missing)" \
 && ceguard --version

# --------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG CEGUARD_UID=10001
ARG CEGUARD_GID=10001

LABEL org.opencontainers.image.title="ceguard" \
      org.opencontainers.image.description="Real-time surveillance of clearly erroneous trades over FIX"

# NUMBA_CACHE_DIR: where numba keeps the machine code of the `cache=True` kernels. It is warmed
# below at build time so the first start does not spend seconds compiling. numba keys its cache
# by the source file (path and contents) and by the CPU (name and features) it compiled for:
# on a host whose CPU differs from the build host's, numba misses, compiles once at start-up
# and writes the result here (the directory stays writable by `ceguard` for that reason).
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NUMBA_CACHE_DIR=/opt/ceguard/numba-cache

RUN groupadd --system --gid ${CEGUARD_GID} ceguard \
 && useradd --system --uid ${CEGUARD_UID} --gid ceguard --home-dir /var/lib/ceguard \
        --no-create-home --shell /usr/sbin/nologin ceguard \
 && install -d -m 0755 -o root -g root /etc/ceguard /opt/ceguard \
 && install -d -m 0750 -o ceguard -g ceguard /var/lib/ceguard \
 && install -d -m 0755 -o ceguard -g ceguard /opt/ceguard/numba-cache

COPY --from=builder /opt/venv /opt/venv

# Configuration (read-only for the service): QuickFIX session settings, the FIX data
# dictionaries they reference (relative paths in the cfg resolve against /etc/ceguard), the
# sample instruments, and the engine config that points at all of them.
COPY fix_configs/*.cfg fix_configs/*.xml /etc/ceguard/
COPY engine/data/sample_instruments.csv /etc/ceguard/sample_instruments.csv
COPY deploy/docker/ceguard.toml /etc/ceguard/ceguard.toml
COPY engine/data/sample_dropcopy.log.gz /opt/ceguard/sample_dropcopy.log.gz

# Warm the numba cache as the user that runs the service, against the installed sources in
# this very image (the cache is keyed by their path, timestamps and contents, and by the
# CPU). engine.live.warmup compiles every kernel of the live path (`ceguard serve` then
# loads them before it listens); check and replay warm theirs. This also proves that the
# compiled quickfix extension loads here, without a compiler, and (load_config checks that
# every file it names exists) that the config files are where the engine config says.
WORKDIR /var/lib/ceguard
USER ceguard
RUN python -c "import quickfix" \
 && python -m engine.live.warmup \
 && ceguard check --reference-price 100 --price 94 --leverage 2 \
 && ceguard replay /opt/ceguard/sample_dropcopy.log.gz \
        --instruments /etc/ceguard/sample_instruments.csv --only-flagged --out /dev/null \
 && test -n "$(ls -A /opt/ceguard/numba-cache)" \
 && python -c "from engine.config import load_config; load_config('/etc/ceguard/ceguard.toml')"

# Declared after every step that writes into them: a fresh named volume is seeded from the
# image (config files; the empty, ceguard-owned state directory).
VOLUME ["/etc/ceguard", "/var/lib/ceguard"]

# 9878: FIX acceptor (SocketAcceptPort in ceguard.cfg). 9879: Prometheus metrics, /livez
# and /readyz ([metrics] listen in ceguard.toml).
EXPOSE 9878 9879

# Healthy = ready: /readyz answers 200 once the kernels are loaded, the journal takes writes
# and the acceptor listens (503 with a JSON body naming what is not ready, e.g. while a cold
# numba cache compiles on a CPU unlike the build host's: hence the start period). Python
# stdlib only (no curl in the slim image); the port is read from the engine config, so
# changing [metrics] listen does not break the check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=180s --retries=3 \
    CMD ["python", "-c", "import sys, tomllib, urllib.request\ntry:\n    listen = tomllib.load(open('/etc/ceguard/ceguard.toml', 'rb'))['metrics']['listen']\nexcept Exception:\n    listen = '0.0.0.0:9879'\nhost, _, port = listen.rpartition(':')\nhost = host.strip('[]')\nhost = {'': '127.0.0.1', '0.0.0.0': '127.0.0.1', '::': '::1'}.get(host, host)\nhost = '[' + host + ']' if ':' in host else host\ntry:\n    ok = urllib.request.urlopen('http://' + host + ':' + port + '/readyz', timeout=4).status == 200\nexcept Exception:\n    ok = False\nsys.exit(0 if ok else 1)"]

# `docker run IMAGE` serves; `docker run IMAGE replay ...` / `check ...` run the other commands.
# ceguard runs as PID 1: docker stop's SIGTERM reaches it directly, and as PID 1 the kernel's
# default action does not apply, so `serve` handles SIGTERM itself (clean logout, journal closed).
ENTRYPOINT ["ceguard"]
CMD ["serve", "--config", "/etc/ceguard/ceguard.toml"]
