"""FIX over TLS: QuickFIX's own TLS (quickfix built with HAVE_SSL, patched for the address
check and unknown sessions). Throwaway certificates are made for each run."""

from __future__ import annotations

import ssl

import pytest

from tests.live import wait_for
from tests.logon import (CredentialInitiator, connect, exchange, logon, make_certificate,
                         serve_with)

PASSWORD = "tls-firmA-s3cret"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("tls")
    cert, key = make_certificate(base)
    (base / "firma.password").write_text(PASSWORD)
    (base / "server").mkdir()
    server = serve_with(base / "server", f"""
[tls]
certificate = "{cert}"
key = "{key}"
[auth.credentials]
FIRMA = {{ username = "firma", password_file = "../firma.password" }}
""", overrides='AllowedRemoteAddresses = "127.0.0.0/31"')  # .0 and .1, not .2
    verified = ssl.create_default_context(cafile=str(cert))  # checks the name 127.0.0.1 too
    port = server.fix_port
    try:
        firm = CredentialInitiator(port, base / "firm", "FIRMA", "firma", PASSWORD, tls=True)
        try:
            firm.wait_logon()
            firm_up = server.metric("ceguard_session_up", session="FIX.4.4:CEGUARD->FIRMA")
            sock = connect(port, tls=verified)
            version = sock.version()
            answers = {
                "firmb": exchange(sock, logon("FIRMB")),  # FIRMB has no credentials
                # MsgSeqNum high: FIRMB is past 1 now, and a Logon too low is refused first.
                "address": exchange(connect(port, "127.0.0.2", verified),
                                    logon("FIRMB", seq=100)),
                "unknown": exchange(connect(port, tls=verified), logon("INTRUDER")),
                "busy": exchange(connect(port, tls=verified), logon(
                    "FIRMA", username="firma", password=PASSWORD)),
                "plaintext": exchange(connect(port), logon("FIRMB")),
            }
            still_up = firm.peer.logged_on(firm.session)
        finally:
            firm.stop()
        refused = {reason: wait_for(lambda: server.metric(  # counted from the GLOBAL log
            "ceguard_logons_refused_total", reason=reason), what=reason)
            for reason in ("unknown_session", "already_logged_on")}
    finally:
        server.stop()
    return server, firm_up, version, answers, still_up, refused


def test_a_quickfix_initiator_logs_on_over_tls_with_credentials(run):
    server, firm_up, _, _, still_up, _ = run
    assert firm_up == 1
    assert still_up  # the refused and plaintext connections did not disturb it
    assert "FIX.4.4:CEGUARD->FIRMA" in {e["session"] for e in server.events("logon")}


def test_a_verifying_tls_client_negotiates_tls_1_2_or_later_and_logs_on(run):
    _, _, version, answers, _, _ = run
    assert version in ("TLSv1.2", "TLSv1.3")
    assert answers["firmb"][0][35] == "A"


def test_over_tls_a_bad_address_an_unknown_or_busy_session_get_a_logout_and_count(run):
    _, _, _, answers, _, refused = run
    [address] = answers["address"]
    assert address[35] == "5" and "address_not_allowed: 127.0.0.2" in address[58]
    [unknown] = answers["unknown"]
    assert unknown[35] == "5" and "unknown_session" in unknown[58]
    [busy] = answers["busy"]  # FIRMA is logged on from the firm's connection
    assert busy[35] == "5" and "already_logged_on" in busy[58]
    assert refused == {"unknown_session": 1, "already_logged_on": 1}


def test_plaintext_fix_to_the_tls_port_gets_no_fix_answer(run):
    server, _, _, answers, _, _ = run
    assert answers["plaintext"] == []  # the handshake fails; the socket is closed
    firmb = [e for e in server.events("logon") if e["session"] == "FIX.4.4:CEGUARD->FIRMB"]
    assert len(firmb) == 1  # the verified TLS client's, not the plaintext one's


@pytest.fixture(scope="module")
def mutual(tmp_path_factory):
    """[tls] ca: a client must present a certificate signed by that CA."""
    base = tmp_path_factory.mktemp("mtls")
    authority = make_certificate(base, "ca")
    cert, key = make_certificate(base, "server", ca=authority)
    client_cert, client_key = make_certificate(base, "client", ca=authority)
    (base / "server-dir").mkdir()
    server = serve_with(base / "server-dir", f"""
[tls]
certificate = "{cert}"
key = "{key}"
ca = "{authority[0]}"
min_version = "1.3"
""")
    anonymous = ssl.create_default_context(cafile=str(authority[0]))
    with_cert = ssl.create_default_context(cafile=str(authority[0]))
    with_cert.load_cert_chain(str(client_cert), str(client_key))
    try:
        sock = connect(server.fix_port, tls=with_cert)
        version = sock.version()
        answers = {"with_cert": exchange(sock, logon("FIRMB"))}
        try:  # TLS 1.3: the server's verdict on the client may come after the handshake
            answers["anonymous"] = exchange(connect(server.fix_port, tls=anonymous),
                                            logon("FIRMA"))
        except ssl.SSLError:
            answers["anonymous"] = []
    finally:
        server.stop()
    return server, version, answers


def test_with_ca_set_only_a_client_with_a_certificate_logs_on(mutual):
    server, version, answers = mutual
    assert version == "TLSv1.3"  # min_version = "1.3"
    assert answers["with_cert"][0][35] == "A"
    assert answers["anonymous"] == []
    assert {e["session"] for e in server.events("logon")} == {"FIX.4.4:CEGUARD->FIRMB"}
