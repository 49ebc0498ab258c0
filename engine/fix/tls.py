"""FIX over TLS: the acceptor class and the QuickFIX settings of the engine config's [tls].

ceguard builds quickfix 1.16.0 with HAVE_SSL (Makefile, Dockerfile), so QuickFIX itself
serves TLS. The Python module of 1.16.0 has one TLS acceptor, SSLSocketAcceptor: like the
plain SocketAcceptor it runs every session on one thread (so the two behave alike), and
it does each TLS handshake on that thread too (QuickFIX gives a handshake 10 s at most).
"""

from __future__ import annotations

import quickfix as fix

from engine.config import TLS_PROTOCOLS, TlsConfig

# QuickFIX's CertificateVerifyLevel 1: OpenSSL's SSL_VERIFY_FAIL_IF_NO_PEER_CERT.
REQUIRE_CLIENT_CERTIFICATE = "1"


def tls_settings(tls: TlsConfig | None) -> dict[str, str]:
    """QuickFIX [DEFAULT] settings for `tls` (none for plain TCP)."""
    if tls is None:
        return {}
    settings = {"ServerCertificateFile": str(tls.certificate),
                "ServerCertificateKeyFile": str(tls.key),
                "SSLProtocol": TLS_PROTOCOLS[tls.min_version]}
    if tls.ca is not None:
        settings["CertificationAuthoritiesFile"] = str(tls.ca)
        settings["CertificateVerifyLevel"] = REQUIRE_CLIENT_CERTIFICATE
    return settings


def acceptor_class(tls: TlsConfig | None) -> type:
    # Plain TCP is threaded, one thread per connection, so that a peer dribbling bytes
    # before its Logon cannot stall the other sessions (SocketAcceptor serves all in one
    # loop). The Python module has no threaded TLS acceptor: TLS keeps that limit.
    return fix.SSLSocketAcceptor if tls is not None else fix.ThreadedSocketAcceptor
