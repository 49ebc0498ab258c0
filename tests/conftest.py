"""Helpers: FIX messages, logs in each capture format, and running ceguard for real."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.sim.dropcopy import encode

SOH = "\x01"


def trade(exec_id: str, symbol: str, price: str, *, side: str = "2", qty: str = "100",
          time: str = "20260115-15:00:00.000", order: str | None = None,
          match: str | None = None, aggressor: str | None = None, begin: str = "FIX.4.4",
          extra: list[tuple[int, str]] | None = None) -> str:
    """A trade ExecutionReport (150=F, or 20=0/150=2 on FIX.4.2)."""
    fields = [(35, "8"), (49, "MATCHING1"), (56, "CEGUARD"), (34, "1"), (52, time),
              (17, exec_id), (55, symbol), (54, side), (31, price), (32, qty), (60, time)]
    fields += [(20, "0"), (150, "2")] if begin == "FIX.4.2" else [(150, "F")]
    if order:
        fields.append((37, order))
    if match:
        fields.append((880, match))
    if aggressor:
        fields.append((1057, aggressor))
    return encode(begin, fields + (extra or []))


def match(n: int, symbol: str, price: str, order: str = "AGG", **kw) -> list[str]:
    """Both sides of match n: the aggressor's execution first, then the passive one."""
    return [trade(f"A{n}", symbol, price, order=order, match=f"M{n}", aggressor="Y", **kw),
            trade(f"P{n}", symbol, price, side="1", order=f"R{n}", match=f"M{n}",
                  aggressor="N", **kw)]


def write_log(path: Path, messages: list[str], fmt: str = "filelog") -> Path:
    """The same messages as a FileLog, raw SOH stream, |-delimited text, or gzip FileLog."""
    if fmt == "raw":
        data = "".join(messages)
    elif fmt == "pipe":
        data = "".join(m.replace(SOH, "|") + "\n" for m in messages)
    else:
        data = "".join(f"20260115-15:00:00.000000000 : {m}\n" for m in messages)
    raw = data.encode("latin-1")
    path.write_bytes(gzip.compress(raw, mtime=0) if fmt == "gzip" else raw)
    return path


def write_instruments(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("symbol,leverage,prev_close\n" + "".join(f"{s},{l},{c}\n" for s, l, c in rows))
    return path


@pytest.fixture
def replay(tmp_path, capsys):
    """Run `ceguard replay` in-process; return (records, summary text on stderr)."""

    def run(*args: str, instruments: Path | None = None) -> tuple[list[dict], str]:
        out = tmp_path / "decisions.jsonl"
        argv = ["replay", *map(str, args), "--out", str(out)]
        if instruments:
            argv += ["--instruments", str(instruments)]
        assert main(argv) == 0
        err = capsys.readouterr().err
        return [json.loads(line) for line in out.read_text().splitlines()], err

    return run


def by_exec(records: list[dict]) -> dict[str, dict]:
    return {r["exec_id"]: r for r in records if "exec_id" in r and r["verdict"] != "rejected"}
