"""Synthetic drop-copy traffic: a matching engine's ExecutionReports for both sides of
every match, with a few injected clearly erroneous events.

Used for the shipped sample log, the replay benchmark and the tests. Messages are
complete FIX (BodyLength and CheckSum right), so QuickFIX parses them as well.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

SOH = "\x01"


def encode(begin: str, fields: list[tuple[int, str]]) -> str:
    """A FIX message with BodyLength (9) and CheckSum (10) computed."""
    body = "".join(f"{tag}={value}{SOH}" for tag, value in fields)
    head = f"8={begin}{SOH}9={len(body.encode())}{SOH}"
    checksum = sum((head + body).encode()) % 256
    return f"{head}{body}10={checksum:03d}{SOH}"


def fix_time(moment: datetime) -> str:
    return moment.strftime("%Y%m%d-%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


@dataclass(frozen=True)
class Fill:
    """One side of one match."""

    exec_id: str
    order_id: str
    match_id: str
    symbol: str
    side: str  # FIX 54
    price: str
    qty: int
    aggressor: bool
    firm: str
    moment: datetime


@dataclass
class Security:
    symbol: str
    leverage: str
    prev_close: float
    price: float


class DropCopyStream:
    """Generates matches over many securities; `inject_*` add erroneous events."""

    def __init__(self, symbols: int = 500, seed: int = 7,
                 start: datetime = datetime(2026, 1, 15, 14, 35, tzinfo=timezone.utc),
                 step: timedelta = timedelta(milliseconds=2),
                 firms: tuple[str, ...] = ("FIRMA", "FIRMB"), id_prefix: str = "") -> None:
        self.rng = random.Random(seed)
        self.id_prefix = id_prefix  # keeps ExecIDs of separate live runs apart
        self.clock = start
        self.step = step
        self.firms = firms
        self.securities = [self._security(i) for i in range(symbols)]
        self._traded = len(self.securities)  # securities added later stay out of normal()
        self._exec = 0
        self._order = 0
        self._match = 0

    def _security(self, i: int) -> Security:
        rng = self.rng
        close = round(rng.choice((rng.uniform(2, 25), rng.uniform(25, 50), rng.uniform(50, 400))), 2)
        leverage = rng.choice(("2", "3", "-2", "-3")) if i % 25 == 0 else "1"
        return Security(f"S{i:04d}", leverage, close, close)

    def add_security(self, symbol: str, leverage: str, close: float) -> int:
        """A security that only trades in injected events; returns its index."""
        self.securities.append(Security(symbol, leverage, close, close))
        return len(self.securities) - 1

    def pause(self, gap: timedelta) -> None:
        self.clock += gap

    def instruments_csv(self) -> str:
        rows = ["symbol,leverage,prev_close"]
        rows += [f"{s.symbol},{s.leverage},{s.prev_close:.2f}" for s in self.securities]
        return "\n".join(rows) + "\n"

    def _new_order(self) -> str:
        self._order += 1
        return f"{self.id_prefix}O{self._order}"

    def _sides(self, sec: Security, price: float, qty: int, aggressor_order: str,
               aggressor_side: str) -> list[Fill]:
        self._match += 1
        match = f"{self.id_prefix}T{self._match}"
        passive_side = "2" if aggressor_side == "1" else "1"
        buyer, seller = self.rng.sample(self.firms, 2) if len(self.firms) > 1 else self.firms * 2
        fills = []
        for side, order, aggressor in ((aggressor_side, aggressor_order, True),
                                       (passive_side, self._new_order(), False)):
            self._exec += 1
            fills.append(Fill(f"{self.id_prefix}E{self._exec}", order, match, sec.symbol, side, f"{price:.2f}",
                              qty, aggressor, buyer if side == "1" else seller, self.clock))
        return fills

    def normal(self, matches: int) -> Iterator[Fill]:
        """Ordinary trading: small random walks, occasional 2-4 level sweeps."""
        rng = self.rng
        traded = self.securities[: self._traded]
        weights = [1.0 / (k + 1) for k in range(len(traded))]  # a few names trade most
        picks = rng.choices(traded, weights=weights, k=matches)
        made = 0
        for sec in picks:
            if made >= matches:
                return
            self.clock += self.step
            drift = rng.uniform(-0.001, 0.001)
            sec.price = min(max(sec.price * (1 + drift), sec.prev_close * 0.99),
                            sec.prev_close * 1.01)
            order = self._new_order()
            side = rng.choice("12")
            levels = 1 if rng.random() < 0.9 else rng.randint(2, 4)
            for level in range(min(levels, matches - made)):
                tick = 0.01 * level * (1 if side == "1" else -1)
                yield from self._sides(sec, max(sec.price + tick, 0.01), rng.choice((100, 200, 500)),
                                       order, side)
                made += 1

    def sweep(self, symbol_index: int, prices: list[str], side: str = "2") -> Iterator[Fill]:
        """One aggressing order printing at each price in turn (e.g. a sell sweep)."""
        sec = self.securities[symbol_index]
        order = self._new_order()
        self.clock += self.step
        for price in prices:
            yield from self._sides(sec, float(price), 100, order, side)

    def event(self, symbol_indexes: list[int], move: float) -> Iterator[Fill]:
        """A multi-stock event: each symbol prints `move` (e.g. -0.07) from its close."""
        for index in symbol_indexes:
            sec = self.securities[index]
            self.clock += timedelta(seconds=5)
            yield from self._sides(sec, sec.prev_close * (1 + move), 100, self._new_order(), "2")


def scenario(stream: DropCopyStream, matches: int) -> Iterator[Fill]:
    """A trading day in miniature: ordinary flow with these events, each more than a
    multi-stock window (5 minutes) away from the others:

    - the 2x sweep of RULES.md 8.5: a 2x fund (reference $100) sold from $98 down to
      $85; every print at or below $94.00 is erroneous, the prints above it stand;
    - a fat-finger print: a $60 stock bought at $66.00 (10% above, 3% tier);
    - a multi-stock event of 8 symbols 7% down: each alone is erroneous (3% or 5%
      tier), the event's 10% row clears them all;
    - an event of 8 symbols 15% down: erroneous under the event row too;
    - an event of 25 symbols 20% down: cleared by the 30% row.
    """
    lev = stream.add_security("LEVX", "2", 100.0)
    fat = stream.add_security("FATF", "1", 60.0)
    cleared = [stream.add_security(f"MSA{i}", "1", 60.0 + i) for i in range(8)]
    busted = [stream.add_security(f"MSB{i}", "1", 20.0 + i) for i in range(8)]
    broad = [stream.add_security(f"MSC{i:02d}", "1", 30.0 + i) for i in range(25)]
    gap = timedelta(minutes=6)
    part = max(matches // 6, 1)
    yield from stream.normal(part)
    stream.pause(gap)
    yield from stream.sweep(lev, ["98.00", "96.00", "94.01", "94.00", "90.00", "85.00"])
    stream.pause(gap)
    yield from stream.normal(part)
    yield from stream.sweep(fat, ["66.00"], side="1")
    stream.pause(gap)
    yield from stream.normal(part)
    yield from stream.event(cleared, -0.07)
    stream.pause(gap)
    yield from stream.normal(part)
    yield from stream.event(busted, -0.15)
    stream.pause(gap)
    yield from stream.normal(part)
    yield from stream.event(broad, -0.20)
    stream.pause(gap)
    yield from stream.normal(matches - 5 * part)


def execution_reports(fills: Iterator[Fill], begin: str = "FIX.4.4",
                      sender: str = "MATCHING1", target: str = "CEGUARD",
                      first_seq: int = 1) -> Iterator[tuple[datetime, str]]:
    """(receive time, FIX message) of each fill's drop copy."""
    seq = first_seq
    for fill in fills:
        when = fix_time(fill.moment)
        header = [(35, "8"), (34, str(seq)), (49, sender), (52, when), (56, target)]
        yield fill.moment, encode(begin, header + drop_copy_body(fill, begin, when))
        seq += 1


def drop_copy_body(fill: Fill, begin: str, when: str) -> list[tuple[int, str]]:
    """Body fields of one fill's drop copy on `begin` (FIX.4.2: 20=0 and 150=2)."""
    exec_type = [(20, "0"), (150, "2")] if begin == "FIX.4.2" else [(150, "F")]
    return [(6, fill.price), (11, f"C{fill.order_id}"), (14, str(fill.qty)),
            (17, fill.exec_id), (30, "XNAS"), (31, fill.price), (32, str(fill.qty)),
            (37, fill.order_id), (38, str(fill.qty)), (39, "2"), (54, fill.side),
            (55, fill.symbol), (60, when), *exec_type, (151, "0"),
            (453, "1"), (448, fill.firm), (447, "D"), (452, "1"),
            (880, fill.match_id), (1057, "Y" if fill.aggressor else "N")]


def filelog_lines(messages: Iterator[tuple[datetime, str]]) -> Iterator[str]:
    """QuickFIX FileLog lines: `YYYYMMDD-HH:MM:SS.nnnnnnnnn : <message>`."""
    for moment, message in messages:
        yield moment.strftime("%Y%m%d-%H:%M:%S.") + f"{moment.microsecond:06d}000 : {message}\n"


def main(argv: list[str] | None = None) -> int:
    import argparse
    import gzip
    import io

    parser = argparse.ArgumentParser(description="Write a synthetic drop-copy FileLog.")
    parser.add_argument("--matches", type=int, default=3000)
    parser.add_argument("--symbols", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--log", required=True, help="output FileLog (.gz to compress)")
    parser.add_argument("--instruments", required=True, help="output instruments CSV")
    parser.add_argument("--bad-lines", action="store_true",
                        help="add two unusable inputs, to show rejected records")
    args = parser.parse_args(argv)
    stream = DropCopyStream(symbols=args.symbols, seed=args.seed)
    lines = filelog_lines(execution_reports(scenario(stream, args.matches)))
    if args.log.endswith(".gz"):  # mtime=0: the same seed gives the same bytes
        target = io.TextIOWrapper(gzip.GzipFile(args.log, "wb", mtime=0), encoding="latin-1",
                                  newline="")
    else:
        target = open(args.log, "w", encoding="latin-1", newline="")
    with target as out:
        for number, line in enumerate(lines):
            out.write(line)
            if args.bad_lines and number == 100:
                out.write("a line from a torn copy, with no FIX message in it\n")
                out.write(line.replace("31=", "31=1O.5").replace("17=E", "17=BAD"))
    with open(args.instruments, "w") as out:
        out.write(stream.instruments_csv())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
