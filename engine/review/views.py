"""What a case looks like to its readers (API, console, CLI): summaries, detail, chart data.

Read-only; the desk calls these under the live engine's lock.
"""

from __future__ import annotations

import json
import time

from engine.fix.busts import fields_of
from engine.journal.store import Journal
from engine.review.cases import CaseStore
from engine.review.notices import iso_utc

CHART_NEIGHBOURS = 40  # prices of the symbol on each side of a case's executions
CHART_SCAN = 50 * CHART_NEIGHBOURS  # fills of other symbols scanned past on each side


def summary(store: CaseStore, case: dict, now: float, nearing_seconds: float) -> dict:
    executions = store.executions(case["id"])
    left = None if case["deadline_at"] is None else case["deadline_at"] - now
    return {
        "id": case["id"], "kind": case["kind"], "origin": case["origin"],
        "state": case["state"], "opened_at": iso_utc(case["opened_at"]),
        "deadline": case["deadline_kind"], "deadline_at": iso_utc(case["deadline_at"]),
        "seconds_left": None if left is None else round(left, 1),
        "deadline_status": None if left is None else
        ("passed" if left <= 0 else "nearing" if left <= nearing_seconds else "ok"),
        "analyst": case["analyst"], "outcome": case["outcome"], "reason": case["reason"],
        "appeal_outcome": case["appeal_outcome"], "merged_into": case["merged_into"],
        "symbols": sorted({e.symbol for e in executions}),
        "exec_ids": [e.exec_id for e in executions],
        "firms": sorted({e.firm for e in executions if e.firm}),
    }


def detail(store: CaseStore, journal: Journal, case_id: int, nearing_seconds: float) -> dict:
    """The summary with each execution's decision record, the series, the steps, notices."""
    result = summary(store, store.get(case_id), time.time(), nearing_seconds)
    result["executions"] = []
    for e in store.executions(case_id):
        found = journal.fill(e.fill_seq)
        if found is None:  # its trading day was archived (a final case: engine/journal/retention.py)
            result["executions"].append({"fill_seq": e.fill_seq, "firm": e.firm,
                                         "archived": True, "record": None})
            continue
        fields = fields_of(found[1])
        result["executions"].append({
            "fill_seq": e.fill_seq, "firm": e.firm, "order_id": fields.get(37),
            "aggressor": fields.get(1057), "last_mkt": fields.get(30),
            "record": journal.decision(e.fill_seq)})
    result["steps"] = [{**s, "at": iso_utc(s["at"])} for s in store.steps(case_id)]
    result["notices"] = [{**n, "at": iso_utc(n["at"])} for n in store.notices(case_id)]
    return result


def chart(store: CaseStore, journal: Journal, case_id: int) -> dict:
    """Prices of the case's first symbol around its executions, in arrival order."""
    executions = store.executions(case_id)
    if not executions:
        return {"symbol": None, "points": [], "marked": []}
    symbol = executions[0].symbol
    seqs = [e.fill_seq for e in executions if e.symbol == symbol]
    rows = journal.connection().execute(
        "SELECT fill_seq, record FROM decisions WHERE symbol = ? AND fill_seq BETWEEN ? AND ? "
        "AND verdict != 'rejected' ORDER BY fill_seq",
        (symbol, min(seqs) - CHART_SCAN, max(seqs) + CHART_SCAN))
    points = [(seq, json.loads(record)) for seq, record in rows]
    marked = [i for i, (seq, _) in enumerate(points) if seq in seqs]
    if not marked:  # its trading day was archived
        return {"symbol": symbol, "points": [], "marked": seqs, "archived": True}
    points = points[max(0, marked[0] - CHART_NEIGHBOURS):marked[-1] + 1 + CHART_NEIGHBOURS]
    return {"symbol": symbol, "marked": seqs,
            "points": [{"fill_seq": seq, "price": r["price"], "time": r["transact_time"],
                        "verdict": r["verdict"]} for seq, r in points],
            "record": journal.decision(seqs[0])}
