"""What `ceguard serve` writes: every stdout line is JSON (QuickFIX's own TLS printf lines
included), and the logons refused just before a stop are still logged and counted."""

from __future__ import annotations

import json
import ssl

from tests.live import Server, free_port, write_instruments
from tests.logon import connect, exchange, logon, make_certificate


def test_quickfix_certificate_lines_reach_stdout_as_json(tmp_path):
    """With [tls] ca, QuickFIX prints each client certificate it verifies (printf, C's
    stdout); serve logs them as `foreign_output` events, and its stdout stays JSON."""
    authority = make_certificate(tmp_path, "ca")
    cert, key = make_certificate(tmp_path, "server", ca=authority)
    client_cert, client_key = make_certificate(tmp_path, "client", ca=authority)
    (tmp_path / "server").mkdir()
    write_instruments(tmp_path / "instruments.csv")
    server = Server(tmp_path / "server", free_port(), free_port(),
                    stderr_path=tmp_path / "server" / "stderr.log")
    server.write_config(tmp_path / "instruments.csv")
    server.config.write_text(server.config.read_text() + f"""
[tls]
certificate = "{cert}"
key = "{key}"
ca = "{authority[0]}"
""")
    server.start()
    try:
        client = ssl.create_default_context(cafile=str(authority[0]))
        client.load_cert_chain(str(client_cert), str(client_key))
        answer = exchange(connect(server.fix_port, tls=client), logon("FIRMB"))
    finally:
        server.stop()
    assert answer[0][35] == "A"
    lines = server.log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # raises on any line that is not JSON
    printed = [r["text"] for r in records if r["event"] == "foreign_output"]
    assert any(text.startswith("Certificate Verification: depth: 0, subject: "
                               "/CN=ceguard-test-client") for text in printed), printed
    assert records[-1]["event"] == "stopped"  # the last lines were read before the end


def test_logons_refused_just_before_a_stop_are_logged_and_counted(tmp_path):
    """Logons for no session are answered by QuickFIX (with ceguard's patch) and seen only
    in its GLOBAL event log, which serve reads every tick; the ones between the last tick
    and the stop are read at the stop."""
    write_instruments(tmp_path / "instruments.csv")
    server = Server(tmp_path, free_port(), free_port())
    server.write_config(tmp_path / "instruments.csv")
    server.start()
    intruders = [f"INTRUDER{n}" for n in range(6)]
    try:
        for sender in intruders:
            answer = exchange(connect(server.fix_port), logon(sender))
            assert answer and answer[0][35] == "5"  # a Logout: refused
    finally:
        server.stop()  # at once: the last refusals are not read by a tick yet
    refused = [e for e in server.events("logon_refused") if e.get("reason") == "unknown_session"]
    assert sorted(e["sender_comp_id"] for e in refused) == intruders
    stopped = [e["event"] for e in server.events()]
    assert stopped.index("logon_refused") < stopped.index("stopped")
