"""Notices of determinations and appeal decisions to the parties: FIX News (35=B).

Every FIX version from 4.2 to 5.0SP2 defines News with the same core (Headline 148,
OrigTime 42, Urgency 61, LinesOfText 33 with Text 58), and a firm's engine takes it
without custom fields, so one builder serves every firm session. The headline is
machine-readable ("CEE CASE <id> <KIND> <OUTCOME>"); the lines say which executions,
why, and until when the determination can be appealed.
"""

from __future__ import annotations

from datetime import datetime, timezone

import quickfix as fix


URGENCY_FLASH = "1"
TEXT_LIMIT = 200


def fix_utc(moment: float) -> str:
    when = datetime.fromtimestamp(moment, timezone.utc)
    return when.strftime("%Y%m%d-%H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def iso_utc(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="seconds") \
        .replace("+00:00", "Z")


def build_notice(begin_string: str, headline: str, lines: list[str], at: float) -> fix.Message:
    """A News message for a session on `begin_string`."""
    message = fix.Message()
    header = message.getHeader()
    header.setField(35, "B")  # on FIXT.1.1 no ApplVerID, as busts: the Logon's default applies
    message.setField(42, fix_utc(at))
    message.setField(61, URGENCY_FLASH)
    message.setField(148, headline[:TEXT_LIMIT])
    message.setField(33, str(len(lines)))
    for line in lines:
        group = fix.Group(33, 58)
        group.setField(58, line[:TEXT_LIMIT])
        message.addGroup(group)
    return message


def determination_lines(case: dict, executions: list, firm: str) -> tuple[str, list[str]]:
    """Headline and lines telling `firm` of a case's determination."""
    outcome = case["outcome"].upper()
    headline = f"CEE CASE {case['id']} DETERMINATION {outcome}"
    lines = [f"Clearly erroneous review case {case['id']}: determined {case['outcome']} "
             f"by {case['analyst']}",
             f"Reason: {case['reason']}"]
    lines += _execution_lines(executions, firm)
    if case.get("deadline_kind") == "appeal":
        lines.append(f"Appeal in writing by {iso_utc(case['deadline_at'])}; "
                     "an appeal does not stay the determination")
    return headline, lines


def appeal_lines(case: dict, executions: list, firm: str, outcome: str, reason: str,
                 analyst: str) -> tuple[str, list[str]]:
    headline = f"CEE CASE {case['id']} APPEAL {outcome.upper()}"
    effect = case["outcome"] if outcome == "upheld" else \
        ("stand" if case["outcome"] == "bust" else "bust")
    lines = [f"Appeal of case {case['id']} {outcome} by {analyst}: final outcome {effect}",
             f"Reason: {reason}"]
    return headline, lines + _execution_lines(executions, firm)


def _execution_lines(executions: list, firm: str) -> list[str]:
    lines = []
    for e in executions:
        yours = " (yours)" if e.firm == firm else ""
        lines.append(f"Execution {e.exec_id} {e.symbol} trade {e.trade_id or '-'}{yours}")
    return lines
