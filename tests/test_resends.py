"""ResendWatch and BustOutcomes on real QuickFIX messages: what a sequence reset skips of
the ranges ceguard asked for, and which bust a Reject refers to."""

from __future__ import annotations

import quickfix as fix

from engine.fix.bust_outcomes import BustOutcomes
from engine.fix.resends import ResendWatch

SESSION = "FIX.4.4:CEGUARD->MATCHING1"


def message(msg_type: str, header: dict[int, str] | None = None, **body: str) -> fix.Message:
    text = f"35={msg_type}\x01" + "".join(f"{tag}={value}\x01" for tag, value in
                                          (header or {}).items())
    text += "".join(f"{tag[1:]}={value}\x01" for tag, value in body.items())
    return fix.Message(text, False)


def resend_request(watch: ResendWatch, begin: int, end: int) -> None:
    watch.requested(message("2", t7=str(begin), t16=str(end)), SESSION)


def test_only_the_requested_msgseqnums_count_once_each_and_not_the_logon():
    watch = ResendWatch()
    watch.requested(message("0"), SESSION)  # a Heartbeat: not a request
    assert watch.skipped(SESSION, 5, 20) is None  # nothing was asked for
    watch.logon(SESSION, 12)
    resend_request(watch, 5, 0)  # 0: up to the newest
    resend_request(watch, 8, 10)  # overlaps the first
    skipped = watch.skipped(SESSION, 5, 13)  # 5..12 skipped, 12 is the Logon
    assert (skipped.first, skipped.last, skipped.possibly_lost) == (5, 12, 7)
    assert skipped.requested == "5-0, 8-10"
    # A reset that starts past a bounded request skips only what was asked for.
    watch.forget(SESSION)
    resend_request(watch, 30, 33)
    skipped = watch.skipped(SESSION, 32, 40)
    assert (skipped.first, skipped.last, skipped.possibly_lost) == (32, 33, 2)
    assert watch.skipped(SESSION, 34, 40) is None  # beyond the request
    assert watch.skipped("FIX.4.2:CEGUARD->MATCHING1", 32, 40) is None  # another session


def test_huge_ranges_are_counted_without_listing_them():
    watch = ResendWatch()
    resend_request(watch, 1, 999999)  # FIX.4.0/4.1's "no end"
    assert watch.skipped(SESSION, 1, 2_000_000_001).possibly_lost == 2_000_000_000


def test_a_reject_is_tied_to_the_bust_sent_under_its_msgseqnum():
    outcomes = BustOutcomes()
    firm = "FIX.4.4:CEGUARD->FIRMA"
    outcomes.outgoing(message("8", {34: "7"}, t17="BUST-E-1"), firm)
    outcomes.outgoing(message("8", {34: "8"}, t17="E-2"), firm)  # not a bust
    refusal = outcomes.refusal(message("3", t45="7", t371="150", t373="5",
                                       t58="Value is incorrect"), firm)
    assert (refusal.bust_exec_id, refusal.reason) == ("BUST-E-1", "value_is_incorrect")
    assert refusal.detail == ("Reject (35=3) from the recipient, reason 5 value_is_incorrect: "
                              "tag 150: Value is incorrect")
    assert outcomes.refusal(message("3", t45="8", t373="5"), firm) is None
    assert outcomes.refusal(message("3", t45="7", t373="5"), SESSION) is None
    # A BusinessMessageReject may name the bust by its ExecID, whatever its MsgSeqNum.
    refusal = outcomes.refusal(message("j", t45="99", t379="BUST-E-9", t380="0"), firm)
    assert (refusal.bust_exec_id, refusal.reason) == ("BUST-E-9", "other")
