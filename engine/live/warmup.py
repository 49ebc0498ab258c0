"""Compile, or load from numba's cache, every kernel of the live path before serving.

numba compiles a kernel on its first call, or loads it from its on-disk cache (keyed by
the source files, engine/jit.py's sources digest and the CPU). Left to the first fill,
that cost 16-45 s of compiling on a cold cache, while `ceguard serve` already took
logons. The warm-up runs fills that take every path a live fill can take (stands, no
reference, erroneous with busts, rejected, a duplicate, a multi-stock event and its
window closing, each FIX version, the symbol table growing) through a throwaway
LiveEngine, with its own journal in a temporary folder and no FIX side: the same calls
with the same argument types as the real engine's, so numba holds every signature they
need before the acceptor listens.

`python -m engine.live.warmup` does it once at install time (the Makefile's set-up, the
Docker build), so that `ceguard serve` only loads. KernelCensus then tells whether a
kernel was compiled or loaded after readiness: 0 unless the warm-up missed a path.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from numba.core.dispatcher import Dispatcher

from engine.core.instruments import Instrument
from engine.prices import to_fixed
from engine.rules.rulebook import Rulebook

WARM_SESSION = "FIX.4.4:CEGUARD->WARMUP"
WARM_FIRMS = {"FIRMA": "FIX.4.4:CEGUARD->FIRMA"}  # FIRMB is unmapped: a failed bust row


@dataclass(frozen=True)
class Warmed:
    seconds: float
    compiled: int  # kernel signatures numba compiled (its cache had none for them)
    loaded: int  # kernel signatures loaded from numba's cache

    def fields(self) -> dict[str, object]:
        """The `warmed` log line's fields."""
        return {"seconds": round(self.seconds, 3), "kernels_compiled": self.compiled,
                "kernels_loaded": self.loaded,
                "source": "compiled" if self.compiled else "cache"}


class KernelCensus:
    """The numba functions of ceguard's modules and the signatures they hold."""

    def __init__(self) -> None:
        self._baseline = self._signatures()

    def late(self) -> list[str]:
        """Kernels that gained a signature since this census was taken (compiled or loaded
        after it), e.g. ['engine.core.pipeline.decode_and_judge']."""
        now = self._signatures()
        return sorted(name for name, n in now.items() if n > self._baseline.get(name, 0))

    @staticmethod
    def _signatures() -> dict[str, int]:
        return {name: len(d.overloads) for name, d in _dispatchers().items()}


def warm_up(rulebook: Rulebook) -> Warmed:
    """Judge the warm-up fills through a throwaway engine; what numba did meanwhile
    (counted over every kernel of the process, so a start-up's earlier loads count too)."""
    started = time.perf_counter()
    # Imported here: importing them is part of what a cold start pays.
    from engine.core.surveillance import Surveillance
    from engine.journal.checkpoint import BACKSTOP_PAGES
    from engine.journal.store import Journal
    from engine.live.engine import LiveEngine
    from engine.obs.metrics import Metrics

    with tempfile.TemporaryDirectory(prefix="ceguard-warmup-") as folder:
        journal = Journal(Path(folder) / "warmup.sqlite", "normal", BACKSTOP_PAGES)
        engine = LiveEngine(lambda: Surveillance(rulebook, _instruments()), lambda: journal,
                            Metrics(), WARM_FIRMS, 0, _Silent())
        try:
            for seq, raw in enumerate(_messages(), start=1):
                engine.on_fill(raw, WARM_SESSION, seq)
                engine.flush()  # each commit renders, journals and "sends" its batch
            # A day with more new symbols than the table holds grows it mid-session.
            engine.core.state.grow_symbols()
        finally:
            engine.close()
    hits = misses = 0
    for dispatcher in _dispatchers().values():
        hits += sum(dispatcher.stats.cache_hits.values())
        misses += sum(dispatcher.stats.cache_misses.values())
    return Warmed(time.perf_counter() - started, misses, hits)


def _dispatchers() -> dict[str, Dispatcher]:
    """Every numba function defined in an imported module of the engine package."""
    found = {}
    for module_name, module in list(sys.modules.items()):
        if module is None or not (module_name == "engine" or module_name.startswith("engine.")):
            continue
        for name, value in list(vars(module).items()):
            if isinstance(value, Dispatcher) and value.py_func.__module__ == module_name:
                found[f"{module_name}.{name}"] = value
    return found


def _instruments() -> list[Instrument]:
    rows = [("WARM", 100, "100.00"), ("WARMX", 200, "50.00"), ("WARMI", -300, "20.00")]
    rows += [(f"WARMEV{i}", 100, f"{40 + i}.00") for i in range(6)]
    return [Instrument(symbol, leverage, to_fixed(close)) for symbol, leverage, close in rows]


class _Silent:
    """The throwaway engine's logger: its flags and failed busts are no one's news."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


def _messages() -> list[bytes]:
    """Drop copies for every path of the live kernels, as the wire carries them."""
    from engine.sim.dropcopy import Fill, drop_copy_body, encode, fix_time

    moment = datetime.now(timezone.utc)
    when = fix_time(moment)
    fills = []
    for n, (symbol, price) in enumerate([("WARM", "100.05"), ("WARMX", "50.10"),
                                         ("WARMI", "20.01"), ("NOREF", "12.34"),
                                         ("WARM", "160.00"), ("WARMX", "20.00")]):
        fills += [Fill(f"WA{n}", f"O{n}", f"M{n}", symbol, "2", price, 100, True, "FIRMA",
                       moment),
                  Fill(f"WP{n}", f"R{n}", f"M{n}", symbol, "1", price, 100, False, "FIRMB",
                       moment)]
    # A multi-stock event: one erroneous move in many securities at once.
    fills += [Fill(f"WE{i}", f"E{i}", f"ME{i}", f"WARMEV{i}", "2", f"{28 + i}.00",
                   100, True, "FIRMA", moment) for i in range(6)]
    messages = []
    for seq, fill in enumerate(fills, start=1):
        for begin in ("FIX.4.4", "FIX.4.2", "FIXT.1.1"):
            if begin != "FIX.4.4" and seq > 2:
                continue  # the other versions' decoding: a few fills suffice
            version = "FIX.4.4" if begin == "FIXT.1.1" else begin
            header = [(35, "8"), (34, str(seq)), (49, "MATCHING1"), (52, when), (56, "CEGUARD")]
            if begin == "FIXT.1.1":
                header.append((1128, "9"))
            body = drop_copy_body(fill, version, when)
            if begin != "FIX.4.4":  # unique ExecIDs per version
                body = [(t, f"{v}-{version}" if t == 17 else v) for t, v in body]
            messages.append(encode(begin, header + body))
    messages.append(messages[0])  # a duplicate ExecID (a PossDup resend)
    messages.append(encode("FIX.4.4", [(35, "8"), (34, "99"), (49, "MATCHING1"),
                                       (52, when), (56, "CEGUARD"), (17, "WBAD"),
                                       (55, "WARM"), (150, "F")]))  # no price: rejected
    messages.append("8=FIX.4.4\x019=5\x0135=8\x01garbage\x0110=000\x01")  # malformed
    return [m.encode("latin-1") for m in messages]


def main() -> int:
    """Warm numba's cache at install time; one JSON line says what it did."""
    from engine.rules.rulebook import load_rulebook

    warmed = warm_up(load_rulebook(None))
    print(json.dumps({"event": "warmed", **warmed.fields()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
