"""The `ceguard` command."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from engine import __version__
from engine.errors import CONFIG_EXIT_CODE, ConfigError
from engine.replay.writer import FORMATS

EXIT_USAGE = 2
EXIT_ERRONEOUS = 1  # `ceguard check`: the trade (or a line of the batch) is erroneous


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ConfigError as exc:
        print(f"ceguard: configuration error: {exc}", file=sys.stderr)
        return CONFIG_EXIT_CODE
    except BrokenPipeError:  # `ceguard replay ... | head`
        sys.stderr.close()
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ceguard", description=(
        "Surveillance of clearly erroneous trades: FIX drop copies judged against the "
        "numerical guidelines."))
    parser.add_argument("--version", action="version", version=f"ceguard {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    check = sub.add_parser(
        "check", help="verdict of one hypothetical trade (what-if)",
        description="Judge one trade, or JSON lines from stdin with --batch.",
        epilog="exit status: 0 the trade stands (batch: every line stands), 1 erroneous "
               "(batch: at least one line), 2 bad input (batch: at least one line rejected). "
               "example: ceguard check --reference-price 40 --price 46 --leverage 3")
    check.add_argument("--reference-price", metavar="PRICE",
                       help="the reference price, e.g. the last sale (decimal)")
    check.add_argument("--price", metavar="PRICE", help="the trade's price (decimal)")
    check.add_argument("--leverage", default="1", metavar="X",
                       help="leverage multiplier of an ETF/ETN, negative for inverse (default 1)")
    check.add_argument("--session", default="regular", choices=("regular", "pre", "post"),
                       help="the session the trade printed in (default regular)")
    check.add_argument("--event-size", type=int, default=0, metavar="N",
                       help="securities in a multi-stock event (default 0: none)")
    check.add_argument("--batch", action="store_true",
                       help="read JSON lines (reference_price, price, leverage, session, "
                            "event_size) from stdin, write one JSON line each")
    check.add_argument("--rulebook", metavar="FILE", help="rulebook JSON (default: built in)")
    check.set_defaults(run=_run_check)

    replay = sub.add_parser("replay", help="judge every fill of captured FIX logs",
                            description=(
                                "Read QuickFIX FileLogs, raw SOH streams or |-delimited text "
                                "(gzip too; - for stdin) and write one decision per trade. "
                                "Several logs (a day's sessions) are replayed as one: merged "
                                "by TransactTime, each keeping its own order."))
    replay.add_argument("paths", nargs="+", metavar="PATH",
                        help="logs to replay; several are merged by TransactTime (equal times "
                             "in the order given; units without a time in their log's order)")
    replay.add_argument("--instruments", metavar="CSV",
                        help="symbol,leverage,prev_close of each security")
    replay.add_argument("--rulebook", metavar="FILE", help="rulebook JSON (default: built in)")
    replay.add_argument("--out", default="-", metavar="FILE", help="output file (default: stdout)")
    replay.add_argument("--format", default="jsonl", choices=FORMATS,
                        help="jsonl or csv for programs, text for people (default jsonl)")
    replay.add_argument("--only-flagged", action="store_true",
                        help="write only erroneous and rejected records")
    replay.add_argument("--legacy-fills", action="store_true",
                        help="judge ExecType 150=1/2 as fills on FIX.4.3+ too (by the spec "
                             "they are fills only on FIX.4.0-4.2; without this flag they "
                             "are counted in the summary, not judged)")
    replay.set_defaults(run=_run_replay)

    serve = sub.add_parser("serve", help="the live QuickFIX acceptor: judge drop copies, "
                                         "send busts",
                           description="Accept drop-copy sessions, judge every fill, journal "
                                       "it, and send busts to the firms and the matching "
                                       "engine. Logs JSON lines on stdout; /livez and /readyz "
                                       "beside /metrics.",
                           epilog="examples: ceguard serve --config /etc/ceguard/ceguard.toml; "
                                  "ceguard serve --check --config ceguard.toml (exit status "
                                  "0: it would serve; 2: the first problem, with its file, "
                                  "key and fix)")
    serve.add_argument("--config", metavar="TOML",
                       help="engine config (default: the shipped fix_configs/ceguard.toml)")
    serve.add_argument("--check", action="store_true",
                       help="check the whole configuration (engine config, QuickFIX cfg, "
                            "rulebook, instruments, TLS files, journal folder, free ports), "
                            "then exit without serving")
    serve.set_defaults(run=_run_serve)

    simulate = sub.add_parser(
        "simulate", help="the matching engines and firms of a config, over FIX, for demos and "
                         "tests",
        description="Play the counterparties of an engine config: its drop-copy sessions' "
                    "matching engines send fills with injected erroneous events, its [firms] "
                    "print the busts they receive. CompIDs, FIX versions and ports come from "
                    "the config's QuickFIX sessions.",
        epilog="example: ceguard simulate --config fix_configs/ceguard.toml --matches 400 "
               "--rate 500")
    simulate.add_argument("--config", metavar="TOML",
                          help="engine config of the `ceguard serve` to play against "
                               "(default: the shipped one)")
    simulate.add_argument("--host", default="127.0.0.1",
                          help="address of the acceptor (default 127.0.0.1)")
    simulate.add_argument("--port", type=int, metavar="PORT",
                          help="connect every session to this port instead of its "
                               "SocketAcceptPort")
    simulate.add_argument("--matches", type=int, default=600, metavar="N",
                          help="ordinary matches around the injected events (default 600)")
    simulate.add_argument("--symbols", type=int, default=100, metavar="N",
                          help="securities the ordinary matches trade (default 100)")
    simulate.add_argument("--rate", type=float, default=400, metavar="FILLS_PER_S",
                          help="drop copies per second (default 400)")
    simulate.add_argument("--versions", metavar="LIST",
                          help="drop-copy sessions to use by FIX version, comma-separated, "
                               "e.g. FIX.4.4,FIX.5.0SP2; symbols are spread over them "
                               "(default: every drop-copy session of the config)")
    simulate.add_argument("--state-dir", default="var/sim", metavar="DIR",
                          help="FileStore and FileLog of the simulated sessions "
                               "(default var/sim)")
    simulate.add_argument("--wait", type=float, default=3.0, metavar="SECONDS",
                          help="how long to wait for busts after the last fill (default 3)")
    simulate.add_argument("--cleared-event", action="store_true",
                          help="also inject a 7%% multi-stock event that the event row clears "
                               "(only cleared with settle_seconds > 0 in the engine config)")
    simulate.set_defaults(run=_run_simulate)

    journal = sub.add_parser("journal", help="recent decisions and busts from the journal",
                             description="Read the journal of `ceguard serve` (safe while it "
                                         "runs): the whole journal, or one trading day.",
                             epilog="examples: ceguard journal --days; ceguard journal --date "
                                    "2026-12-03 --all --format jsonl")
    journal.add_argument("--config", metavar="TOML",
                         help="engine config naming the journal (default: the shipped one)")
    journal.add_argument("--path", metavar="SQLITE", help="the journal file itself")
    journal.add_argument("--limit", type=int, default=20, metavar="N",
                         help="how many decisions, busts and gap fills to show (default 20)")
    journal.add_argument("--all", action="store_true",
                         help="every decision, not only erroneous and rejected ones")
    journal.add_argument("--format", default="text", choices=("text", "jsonl"))
    journal.add_argument("--date", type=_trading_day, metavar="YYYY-MM-DD",
                         help="one trading day, from the journal or, once archived, from the "
                              "archive (e.g. --date 2026-12-03)")
    journal.add_argument("--days", action="store_true",
                         help="list the trading days the journal and its archive hold")
    journal.set_defaults(run=_run_journal)

    from engine.review.cli import add_parser as add_cases_parser

    add_cases_parser(sub)
    return parser


def _run_check(args: argparse.Namespace) -> int:
    from engine.check import CheckInputError, describe, judge, parse_what_if
    from engine.rules.rulebook import load_rulebook

    rulebook = load_rulebook(args.rulebook)
    if not args.batch:
        if args.reference_price is None or args.price is None:
            print("ceguard check: give --reference-price and --price (or --batch)",
                  file=sys.stderr)
            return EXIT_USAGE
        try:
            what = parse_what_if(args.reference_price, args.price, args.leverage,
                                 args.session, args.event_size)
        except CheckInputError as exc:
            print(f"ceguard check: {exc}", file=sys.stderr)
            return EXIT_USAGE
        result = judge(what, rulebook)
        print(describe(result, rulebook.inclusive))
        return EXIT_ERRONEOUS if result["verdict"] == "erroneous" else 0

    bad = 0
    erroneous = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise CheckInputError("each line must be a JSON object")
            missing = {"reference_price", "price"} - item.keys()
            if missing:
                raise CheckInputError(f"missing key(s): {', '.join(sorted(missing))}")
            what = parse_what_if(item["reference_price"], item["price"],
                                 item.get("leverage", "1"), item.get("session", "regular"),
                                 item.get("event_size", 0))
            result = judge(what, rulebook)
        except (json.JSONDecodeError, CheckInputError) as exc:
            bad += 1
            result = {"verdict": "rejected", "line": number, "reason": str(exc)}
        erroneous += result["verdict"] == "erroneous"
        print(json.dumps(result, separators=(",", ":")))
    if bad:
        print(f"ceguard check: {bad} input line(s) rejected", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_ERRONEOUS if erroneous else 0


@contextmanager
def _start_up() -> Iterator[None]:
    """Set-up makes about a million long-lived objects (numba's modules, the cached kernels)
    and no cyclic garbage: the collector walking them took a tenth of start-up."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()  # and never walk them again
        gc.enable()


def _run_replay(args: argparse.Namespace) -> int:
    with _start_up():
        from engine.core.instruments import load_instruments
        from engine.core.surveillance import Surveillance
        from engine.replay.reader import InputError
        from engine.replay.runner import Replay
        from engine.replay.writer import RecordWriter
        from engine.rules.rulebook import load_rulebook

        rulebook = load_rulebook(args.rulebook)
        instruments = load_instruments(args.instruments) if args.instruments else []
        core = Surveillance(rulebook, instruments)
    out = sys.stdout if args.out == "-" else open(args.out, "w", newline="", encoding="utf-8")
    try:
        replay = Replay(core, RecordWriter(out, args.format), args.only_flagged,
                        progress=sys.stderr.isatty(), legacy_fills=args.legacy_fills)
        summary = replay.run(args.paths)
    except InputError as exc:
        print(f"ceguard replay: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if out is not sys.stdout:
            out.close()
    print(summary.text(), file=sys.stderr)
    return 0


def _run_serve(args: argparse.Namespace) -> int:
    from engine.live.serve import check, serve

    return check(args.config) if args.check else serve(args.config)


def _run_simulate(args: argparse.Namespace) -> int:
    from engine.sim.live import simulate

    return simulate(args)


def _trading_day(text: str):
    from engine.journal.view import trading_day
    return trading_day(text)


def _run_journal(args: argparse.Namespace) -> int:
    from engine.journal.view import show

    return show(args)
