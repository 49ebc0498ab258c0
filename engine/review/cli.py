"""`ceguard cases`: list, show and act on review cases from a terminal, through the case API
of a running `ceguard serve` (the same rights and journal steps as the console)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from engine.errors import ConfigError

TOKEN_ENV = "CEGUARD_TOKEN"
DEFAULT_URL = "http://127.0.0.1:9880"
# act ACTION -> (path after /api/cases/<id>, JSON body keys)
ACTIONS = {"take": ("take", None), "bust": ("determine", "bust"),
           "stand": ("determine", "stand"), "uphold": ("appeal-decision", "upheld"),
           "overturn": ("appeal-decision", "overturned"), "dissolve": ("dissolve", None),
           "declare-event": (None, None)}
EXIT_REFUSED = 1
EXIT_USAGE = 2


def add_parser(sub) -> None:
    cases = sub.add_parser(
        "cases", help="list, show and act on review cases (review mode)",
        description="Talk to the case API of a running `ceguard serve`. The token comes "
                    f"from --token-file or ${TOKEN_ENV}. Analysts list, show and act; firms "
                    "list and show their own cases, request a review and appeal.",
        epilog="examples: ceguard cases list; ceguard cases act 12 bust --reason \"beyond the "
               "band\"; ceguard cases request EXEC-991 --reason \"fat finger\"; "
               "ceguard cases appeal 12 --reason \"the reference was stale\"")
    cases.add_argument("--url", help="case API address (default: [review] listen of "
                                     f"--config, else {DEFAULT_URL})")
    cases.add_argument("--config", metavar="TOML", help="engine config to read the address "
                                                        "from (default: the shipped one)")
    cases.add_argument("--token-file", metavar="FILE", help=f"analyst or firm token "
                                                            f"(default: ${TOKEN_ENV})")
    cases.add_argument("--format", default="text", choices=("text", "json"))
    verbs = cases.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", help="cases needing work, by deadline")
    listing.add_argument("--all", action="store_true", help="every case, also final ones")
    show = verbs.add_parser("show", help="one case: executions, reference, history")
    show.add_argument("case", type=int)
    act = verbs.add_parser("act", help="take, bust, stand, uphold, overturn, dissolve, "
                                       "declare-event")
    act.add_argument("case", help="case number (declare-event: numbers joined by commas)")
    act.add_argument("action", choices=list(ACTIONS))
    act.add_argument("--reason", default="", help="why (journaled, sent to the parties)")
    request = verbs.add_parser("request", help="firm: ask for a review of one of its "
                                               "executions (within 30 minutes of it)")
    request.add_argument("exec_id", help="ExecID (17) of the execution")
    request.add_argument("--reason", required=True, help="the factual basis of the request")
    request.add_argument("--routed", action="store_true",
                         help="the order was routed from another market (60-minute limit)")
    appeal = verbs.add_parser("appeal", help="firm: appeal a determination of a case it is "
                                             "a party to (within 30 minutes of the notice)")
    appeal.add_argument("case", type=int)
    appeal.add_argument("--reason", required=True, help="why the determination is wrong")
    cases.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    token = _token(args)
    if token is None:
        print(f"ceguard cases: give --token-file or set {TOKEN_ENV}", file=sys.stderr)
        return EXIT_USAGE
    try:
        url = args.url or _url(args.config)
    except ConfigError as exc:
        print(f"ceguard cases: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.verb == "list":
        states = "" if args.all else "?state=open,under_review,determined,appealed"
        status, payload = _call(url, token, "GET", "/api/cases" + states)
    elif args.verb == "show":
        status, payload = _call(url, token, "GET", f"/api/cases/{args.case}")
    elif args.verb == "request":
        status, payload = _call(url, token, "POST", "/api/requests",
                                {"exec_id": args.exec_id, "reason": args.reason,
                                 "routed": args.routed})
    elif args.verb == "appeal":
        status, payload = _call(url, token, "POST", f"/api/cases/{args.case}/appeal",
                                {"reason": args.reason})
    elif args.action == "declare-event":
        ids = [int(i) for i in args.case.split(",") if i.strip().isdigit()]
        status, payload = _call(url, token, "POST", "/api/events",
                                {"case_ids": ids, "reason": args.reason})
    else:
        path, outcome = ACTIONS[args.action]
        body = {"reason": args.reason} if args.action != "take" else {}
        if outcome is not None:
            body["outcome"] = outcome
        status, payload = _call(url, token, "POST", f"/api/cases/{int(args.case)}/{path}",
                                body)
    if status >= 400:
        print(f"ceguard cases: refused ({status}): {payload.get('error')}", file=sys.stderr)
        return EXIT_REFUSED
    if args.format == "json":
        print(json.dumps(payload, indent=2))
    elif "cases" in payload and isinstance(payload["cases"], list) and args.verb == "list":
        _print_list(payload["cases"])
    elif "cases" in payload:
        print("new cases: " + ", ".join(str(i) for i in payload["cases"]))
    else:
        _print_case(payload)
    return 0


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file:
        return Path(args.token_file).read_text(encoding="utf-8").strip()
    return os.environ.get(TOKEN_ENV)


def _url(config: str | None) -> str:
    """The case API's address from the engine config, found as `ceguard serve` finds it
    (--config, else the shipped one); its secrets are not read (a firm has none of them)."""
    import tomllib  # here, not at the top: every `ceguard` command builds this parser

    from engine.addresses import parse_listen
    from engine.config import DEFAULT_CONFIG

    source = Path(config) if config else DEFAULT_CONFIG
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(source), "(file)", f"cannot be read ({exc.strerror})",
                          "give the engine config of the running serve with --config, or "
                          "its case API with --url") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(source), "(syntax)", f"is not valid TOML ({exc})",
                          "correct the TOML syntax at the position shown") from exc
    listen = data.get("review", {}).get("listen")
    if listen is None:
        return DEFAULT_URL
    host, port = parse_listen(str(source), "review.listen", listen, "127.0.0.1:9880")
    return f"http://{host}:{port}"


def _call(url: str, token: str, method: str, path: str, body: dict | None = None
          ) -> tuple[int, dict]:
    import urllib.error  # here, not at the top: ~20 ms of every `ceguard` start
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url.rstrip("/") + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except urllib.error.URLError as exc:
        return 503, {"error": f"cannot reach the case API at {url} ({exc.reason}); is "
                              "`ceguard serve` running with [review] listen?"}


def _print_list(cases: list[dict]) -> None:
    print(f"{'case':>5}  {'state':<12} {'kind':<5}  {'deadline':<34} symbols / executions")
    for case in cases:
        deadline = "-"
        if case["deadline_at"]:
            left = case["seconds_left"]
            mark = {"passed": "PASSED", "nearing": "nearing"}.get(case["deadline_status"], "")
            deadline = f"{case['deadline']} {left / 60:+.1f} min {mark}".strip()
        print(f"{case['id']:>5}  {case['state']:<12} {case['kind']:<5}  {deadline:<34} "
              f"{','.join(case['symbols'])} ({len(case['exec_ids'])}) "
              f"{' '.join(case['firms'])}")


def _print_case(case: dict) -> None:
    print(f"case {case['id']}  {case['kind']}  {case['state']}  opened {case['opened_at']} "
          f"({case['origin']})")
    if case["deadline_at"]:
        print(f"  {case['deadline']} deadline {case['deadline_at']} "
              f"({case['seconds_left'] / 60:+.1f} min, {case['deadline_status']})")
    if case["outcome"]:
        print(f"  determined {case['outcome']} by {case['analyst']}: {case['reason']}")
    for e in case.get("executions", []):
        r = e["record"]
        print(f"  {r['exec_id']:<14} {r['symbol']:<6} {r['side']:<5} {r['qty']:>6} @ "
              f"{r['price']:<9} {e['firm'] or '?':<6} ref {r['reference_price']} "
              f"({r['reference_source']}) dev {r['deviation_pct']}% band "
              f"{r['band_low']}..{r['band_high']} {r['verdict']}")
    for s in case.get("steps", []):
        print(f"  {s['at']}  {s['actor']:<16} {s['action']:<22} {s['detail'] or ''}")
