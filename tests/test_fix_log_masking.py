"""ceguard's patch to QuickFIX (deploy/quickfix/patch_quickfix.py): its own FileLog masks
Password (554) and NewPassword (925), and `ceguard_peer_address` is exported. The real
FileLog of the installed quickfix, written through and read back from its files."""

from __future__ import annotations

import re

import quickfix as fix

from engine.fix.auth import peer_address_function

MASK = "********"
LINE = re.compile(rb"\d{8}-\d{2}:\d{2}:\d{2}\.\d{9} : (.*)")

# (as written by QuickFIX, as the file must hold it)
CASES = [
    ("8=FIX.4.4\x019=40\x0135=A\x01553=u\x01554=pw\x01925=new pw\x0158=554=x\x0110=000\x01",
     f"8=FIX.4.4\x019=40\x0135=A\x01553=u\x01554={MASK}\x01925={MASK}\x0158=554=x\x0110=000\x01"),
    ("554=at-start\x0110=000\x01", f"554={MASK}\x0110=000\x01"),
    ("925=\x01", f"925={MASK}\x01"),  # empty: masked too, the length tells nothing
    ("8=FIX.4.4\x01554=last-without-soh", f"8=FIX.4.4\x01554={MASK}"),
    ("8=FIX.4.4\x015540=a\x011554=b\x01554\x0135=0\x01",  # other tags, no '='
     "8=FIX.4.4\x015540=a\x011554=b\x01554\x0135=0\x01"),
    ("Heartbeat 554=not-a-field", "Heartbeat 554=not-a-field"),  # not after SOH
    ("", ""),
]


def written(path) -> list[bytes]:
    lines = path.read_bytes().split(b"\n")
    assert lines.pop() == b""
    matches = [LINE.fullmatch(line) for line in lines]
    assert all(matches), lines  # the line format is QuickFIX's, unchanged
    return [m.group(1) for m in matches]


def test_the_file_log_masks_passwords_in_messages_and_events(tmp_path):
    factory = fix.FileLogFactory(str(tmp_path))
    session_log = factory.create(fix.SessionID("FIX.4.4", "CEGUARD", "FIRMA"))
    global_log = factory.create()
    for text, _ in CASES:
        session_log.onIncoming(text)
        session_log.onOutgoing(text)
        session_log.onEvent(text)
    global_log.onEvent(f"Session not found for incoming message: {CASES[0][0]}")
    factory.destroy(session_log)
    factory.destroy(global_log)
    expected = [want.encode("latin-1") for _, want in CASES]
    assert written(tmp_path / "FIX.4.4-CEGUARD-FIRMA.messages.current.log") == \
        [line for line in expected for _ in range(2)]
    assert written(tmp_path / "FIX.4.4-CEGUARD-FIRMA.event.current.log") == expected
    assert written(tmp_path / "GLOBAL.event.current.log") == \
        [b"Session not found for incoming message: " + expected[0]]


def test_the_peer_address_is_empty_outside_a_message_being_handled():
    # Set only while a connection's first message goes to its session (test_auth and
    # test_tls judge real addresses through it); this thread handles none.
    assert peer_address_function()() == b""
