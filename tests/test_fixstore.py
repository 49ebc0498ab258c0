"""Reading QuickFIX's FileStore for the busts it holds (engine/live/fixstore.py), on
files in QuickFIX 1.16's layout (FIX_NOTES.md 3.2)."""

from __future__ import annotations

from engine.live.fixstore import stored_exec_ids
from engine.sim.dropcopy import encode


def write_store(prefix, messages: list[tuple[int, str]], next_sender: int) -> None:
    body, header = b"", []
    for seq, message in messages:
        data = message.encode("latin-1")
        header.append(f"{seq},{len(body)},{len(data)} ")
        body += data
    prefix.with_name(prefix.name + ".body").write_bytes(body)
    prefix.with_name(prefix.name + ".header").write_text("".join(header))
    prefix.with_name(prefix.name + ".seqnums").write_text(
        f"{next_sender:020d} : {1:020d}")


def bust(seq: int, exec_id: str) -> tuple[int, str]:
    return seq, encode("FIX.4.4", [(35, "8"), (34, str(seq)), (17, exec_id), (19, "X")])


def test_stored_busts_are_those_below_the_next_sender_number(tmp_path):
    prefix = tmp_path / "FIX.4.4-CEGUARD-FIRMA"
    logon = (1, encode("FIX.4.4", [(35, "A"), (34, "1"), (98, "0"), (108, "30")]))
    # Seq 3 was written to .body but the process died before .seqnums said 4: QuickFIX
    # re-uses 3 for its next message, so that bust was never really stored.
    write_store(prefix, [logon, bust(2, "BUST-A"), bust(3, "BUST-B")], next_sender=3)
    assert stored_exec_ids(prefix) == {"BUST-A"}


def test_a_reused_sequence_number_overrides_the_earlier_message(tmp_path):
    prefix = tmp_path / "FIX.4.4-CEGUARD-FIRMA"
    heartbeat = (2, encode("FIX.4.4", [(35, "0"), (34, "2")]))
    write_store(prefix, [bust(2, "BUST-A"), heartbeat], next_sender=3)
    assert stored_exec_ids(prefix) == set()


def test_no_store_no_busts(tmp_path):
    assert stored_exec_ids(tmp_path / "FIX.4.4-CEGUARD-FIRMB") == set()
    assert stored_exec_ids(None) == set()
