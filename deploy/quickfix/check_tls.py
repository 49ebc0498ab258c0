"""Exit non-zero unless the installed quickfix was built with TLS (Makefile, Dockerfile).

Without HAVE_SSL the SSL acceptor is a stub whose constructor raises "HAVE_SSL not
enabled"; the real one, given no sessions, fails for that reason instead.
"""

import quickfix as fix



class _Nothing(fix.Application):  # fix.Application itself is abstract
    pass


try:
    fix.SSLSocketAcceptor(_Nothing(), fix.MemoryStoreFactory(), fix.SessionSettings())
except fix.ConfigError as exc:
    if "HAVE_SSL" in str(exc):
        raise SystemExit(f"quickfix was built without TLS ({exc}): rebuild it as the "
                         "Makefile does (make clean test)") from None
print("quickfix: TLS enabled")
