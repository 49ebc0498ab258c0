"""A counterparty that resets its sequence numbers while logged on (a Logon with
ResetSeqNumFlag 141=Y in session, as many venues do daily) is answered as QuickFIX answers it
(the steps of QuickFIX's own acceptance script SessionReset.def): a Logon with 141=Y and
MsgSeqNum 1 back, both sides numbering from 1 again, the session kept open. A reset that
ceguard refuses (here: a wrong password) resets nothing."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from engine.sim.dropcopy import encode, fix_time
from tests.live import fields, journal_rows, wait_for
from tests.logon import serve_with

PASSWORD = "matching1-s3cret"
WRONG_PASSWORD = "not-the-password"
ENV_NAME = "CEGUARD_TEST_RESET_PASSWORD"
AUTH = f"""
[auth.credentials]
MATCHING1 = {{ username = "matching1", password_env = "{ENV_NAME}" }}
"""


class Counterparty:
    """MATCHING1 on FIX.4.4 over a raw socket: every message it sends is written by hand."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._data = b""

    def send(self, seq: int, msg_type: str, *body: tuple[int, str]) -> None:
        now = fix_time(datetime.now(timezone.utc))
        header = [(35, msg_type), (49, "MATCHING1"), (56, "CEGUARD"), (34, str(seq)), (52, now)]
        self.sock.sendall(encode("FIX.4.4", header + list(body)).encode("latin-1"))

    def logon(self, seq: int, password: str, reset: bool) -> None:
        body = [(98, "0"), (108, "30"), (553, "matching1"), (554, password)]
        self.send(seq, "A", *(body + ([(141, "Y")] if reset else [])))

    def receive(self) -> dict[int, str] | None:
        """The next message from ceguard, or None once it has closed the connection."""
        while (end := self._data.find(b"\x0110=")) < 0 or len(self._data) < end + 8:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                return None
            if not chunk:
                return None
            self._data += chunk
        message, self._data = self._data[:end + 8], self._data[end + 8:]
        return fields(message.decode("latin-1"))

    def receive_type(self, msg_type: str) -> dict[int, str] | None:
        """The next message of `msg_type` (heartbeats and the like skipped)."""
        while (message := self.receive()) is not None:
            if message[35] == msg_type:
                return message
        return None

    def close(self) -> None:
        self.sock.close()


def _fill(exec_id: str) -> tuple[tuple[int, str], ...]:
    now = fix_time(datetime.now(timezone.utc))
    return ((17, exec_id), (55, "RSET"), (54, "1"), (31, "10.00"), (32, "100"), (60, now),
            (150, "F"), (39, "2"), (37, "O-" + exec_id), (151, "0"), (14, "100"), (6, "10"),
            (11, "C-" + exec_id))


def _seqnums(store: Path) -> tuple[int, int]:
    """QuickFIX FileStore's next sender and target MsgSeqNums ("SSSSSSSSSS : TTTTTTTTTT")."""
    sender, _, target = Path(f"{store}.seqnums").read_text().partition(" : ")
    return int(sender), int(target)


def test_a_reset_in_session_is_answered_and_a_refused_one_resets_nothing(tmp_path):
    os.environ[ENV_NAME] = PASSWORD
    try:
        server = serve_with(tmp_path, AUTH)
    finally:
        del os.environ[ENV_NAME]
    store = tmp_path / "store" / "FIX.4.4-CEGUARD-MATCHING1"
    try:
        peer = Counterparty(server.fix_port)
        peer.logon(1, PASSWORD, reset=True)
        assert peer.receive_type("A")[141] == "Y"
        for seq in range(2, 5):
            peer.send(seq, "0")
        peer.send(5, "8", *_fill("RS-1"))
        peer.send(6, "1", (112, "before"))
        assert peer.receive_type("0")[112] == "before"

        # The reset in session: a Logon with 141=Y and MsgSeqNum 1 while logged on.
        peer.logon(1, PASSWORD, reset=True)
        answer = peer.receive_type("A")
        assert answer is not None, "ceguard closed the connection instead of answering"
        assert (answer[34], answer[141]) == ("1", "Y")
        peer.send(2, "1", (112, "after"))
        heartbeat = peer.receive_type("0")
        assert (heartbeat[34], heartbeat[112]) == ("2", "after")  # both sides from 1 again
        peer.send(3, "8", *_fill("RS-2"))
        wait_for(lambda: journal_rows(server, "SELECT COUNT(*) FROM decisions WHERE exec_id "
                                              "IN ('RS-1', 'RS-2')")[0][0] == 2,
                 what="both fills judged, before and after the reset")

        # A reset ceguard refuses: a Logout naming why, and nothing reset.
        sender_before, target_before = _seqnums(store)
        peer.logon(1, WRONG_PASSWORD, reset=True)
        logout = peer.receive_type("5")
        assert logout is not None and "password" in logout[58].lower(), logout
        assert peer.receive() is None  # and the connection is closed
        peer.close()
        sender_after, target_after = _seqnums(store)
        assert target_after == target_before == 4
        assert sender_after == sender_before + 1  # the Logout, numbered on: no reset

        # The numbers went on from where they were: the next Logon without reset is 4.
        again = Counterparty(server.fix_port)
        again.logon(4, PASSWORD, reset=False)
        answer = again.receive_type("A")
        assert answer is not None and 141 not in answer
        again.close()
    finally:
        server.stop()
