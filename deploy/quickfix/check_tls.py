"""Exit non-zero unless the installed quickfix was built with TLS (Makefile, Dockerfile).

Without HAVE_SSL the SSL acceptor is a stub whose constructor raises "HAVE_SSL not
enabled" once the settings passed the base class's checks; the real one constructs.
"""

import quickfix as fix

SETTINGS = """[DEFAULT]
ConnectionType=acceptor
SocketAcceptPort=9
NonStopSession=Y
UseDataDictionary=N
[SESSION]
BeginString=FIX.4.4
SenderCompID=A
TargetCompID=B
"""


class _Nothing(fix.Application):  # fix.Application itself is abstract
    def onCreate(self, session_id):
        pass


settings = fix.SessionSettings()
settings.setFromString(SETTINGS)
try:
    fix.SSLSocketAcceptor(_Nothing(), fix.MemoryStoreFactory(), settings)  # never started
except fix.ConfigError as exc:
    raise SystemExit(f"quickfix was built without TLS ({exc}): rebuild it as the Makefile "
                     "does (make clean test)") from None
print("quickfix: TLS enabled")
