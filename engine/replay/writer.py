"""Decision records out, as JSON lines or CSV."""

from __future__ import annotations

import csv
import json
from typing import TextIO

FIELDS = ("line", "exec_id", "trade_id", "symbol", "side", "price", "qty", "transact_time",
          "time_source", "session", "reference_price", "reference_source", "leverage", "event_size",
          "threshold_pct", "deviation_pct", "band_low", "band_high", "verdict", "rule",
          "harmed_side", "reason", "reason_code", "source")


FORMATS = ("jsonl", "csv", "text")
_TEXT_HEADER = (f"{'line':>8}  {'symbol':<8} {'side':<5} {'price':>11} {'reference':>11} "
                f"{'thresh%':>7} {'dev%':>9} {'event':>5}  {'rule':<7} verdict")


class RecordWriter:
    """jsonl and csv for programs; text, one aligned line per record, for people."""

    def __init__(self, out: TextIO, fmt: str) -> None:
        self.out = out
        self._csv = None
        self._write = {"jsonl": self._jsonl, "csv": self._csv_row, "text": self._text}[fmt]
        if fmt == "csv":
            self._csv = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="raise")
            self._csv.writeheader()
        elif fmt == "text":
            out.write(_TEXT_HEADER + "\n")

    def write(self, record: dict) -> None:
        self._write(record)

    def _jsonl(self, record: dict) -> None:
        self.out.write(json.dumps(record, separators=(",", ":")))
        self.out.write("\n")

    def _csv_row(self, record: dict) -> None:
        self._csv.writerow(record)

    def _text(self, r: dict) -> None:
        # with several inputs, which one: path:line
        where = f"{r['source']}:{r['line']}" if "source" in r else r["line"]
        if r["verdict"] == "rejected":
            self.out.write(f"{where:>8}  REJECTED: {r['reason']}\n")
            return
        self.out.write(
            f"{where:>8}  {r['symbol']:<8} {r['side']:<5} {r['price']:>11} "
            f"{r['reference_price'] or '-':>11} {r['threshold_pct'] or '-':>7} "
            f"{r['deviation_pct'] or '-':>9} {r['event_size'] or '':>5}  {r['rule'] or '-':<7} "
            f"{r['verdict'].upper()}\n")
