"""How the review desk groups flagged executions: series keys from real FIX fills, and when a
multi-stock event forms within the window (either direction of time)."""

from engine.review.grouping import (NS, Candidate, fitting_event, forming_event, nanoseconds,
                                    series_keys)
from engine.sim.dropcopy import encode

RECORD = {"symbol": "XYZ", "transact_time": "2026-01-15T15:00:00.123Z", "trade_id": None}


def _raw(*extra: tuple[int, str]) -> bytes:
    return encode("FIX.4.4", [(35, "8"), (37, "ORD1"), (17, "E1"), (55, "XYZ"),
                              *extra]).encode()


def test_series_keys_name_the_time_the_match_and_an_aggressors_order():
    assert series_keys(RECORD, _raw()) == ["time XYZ 2026-01-15T15:00:00.123Z"]
    assert series_keys({**RECORD, "trade_id": "M1"}, _raw((1057, "Y")))[1:] == \
        ["match XYZ M1", "order XYZ ORD1"]
    assert series_keys(RECORD, _raw((851, "2")))[1:] == ["order XYZ ORD1"]  # 851: removed
    assert series_keys(RECORD, _raw((851, "1")))[1:] == []  # added liquidity: passive
    assert series_keys(RECORD, _raw((1057, "N"), (851, "2")))[1:] == []  # 1057 decides


def test_transact_times_are_exact_nanoseconds():
    assert nanoseconds("2026-01-15T15:00:00.5Z") - nanoseconds("2026-01-15T15:00:00Z") == \
        NS // 2
    assert nanoseconds("2026-01-15T15:00:00.000000001Z") - \
        nanoseconds("2026-01-15T15:00:00Z") == 1
    assert nanoseconds("1970-01-01T00:00:01Z") == NS


def _trades(*ats: int) -> list[Candidate]:
    return [Candidate(i + 1, "trade", f"S{i}", at * NS) for i, at in enumerate(ats)]


def test_an_event_forms_only_from_candidates_within_the_window_of_each_other():
    # five securities over 240 s: an event, whichever candidate arrives last
    five = _trades(0, 60, 120, 180, 240)
    assert forming_event(five, 0, 300 * NS, 5) == [1, 2, 3, 4, 5]
    assert forming_event(five, 240 * NS, 300 * NS, 5) == [1, 2, 3, 4, 5]
    # over 400 s: each within 300 s of the middle one, but not of each other
    assert forming_event(_trades(0, 100, 200, 300, 400), 200 * NS, 300 * NS, 5) == []
    # four securities (two candidates of one): no event
    four = _trades(0, 10, 20, 30) + [Candidate(9, "trade", "S0", 40 * NS)]
    assert forming_event(four, 40 * NS, 300 * NS, 5) == []


def test_a_candidate_joins_an_event_only_within_the_window_of_its_earliest_and_latest():
    event = [Candidate(7, "event", "A", 1000 * NS), Candidate(7, "event", "B", 1200 * NS)]
    window = 300 * NS
    assert fitting_event(event, 950 * NS, window) == 7
    assert fitting_event(event, 1250 * NS, window) == 7
    assert fitting_event(event, 900 * NS - 1, window) is None  # > 300 s before the latest
    assert fitting_event(event, 1300 * NS + 1, window) is None  # > 300 s after the earliest
