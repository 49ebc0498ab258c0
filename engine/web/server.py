"""The case API (JSON, bearer tokens) and the analyst console (HTML, a login cookie).

Served by `ceguard serve` from a daemon thread (stdlib ThreadingHTTPServer); every action
goes through the review desk, which takes the live engine's lock. Who is calling decides
what they may do: an analyst token acts on every case; a firm token (PartyID) sees only
cases holding its own executions and files requests and appeals for them.

API (all JSON; errors are {"error": "..."} with the status):
  GET  /api/cases[?state=open,under_review]          list (firms: their cases only)
  GET  /api/cases/<id>                               one case with executions and steps
  POST /api/requests        {exec_id, reason, routed} firm: request for review
  POST /api/cases/<id>/take                          analyst
  POST /api/cases/<id>/determine {outcome: bust|stand, reason}       analyst
  POST /api/cases/<id>/appeal {reason}                               firm (a party)
  POST /api/cases/<id>/appeal-decision {outcome: upheld|overturned, reason}   analyst
  POST /api/events          {case_ids: [..], reason}  analyst: declare a multi-stock event
  POST /api/cases/<id>/dissolve {reason}             analyst: split an event into trades
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from engine.review.cases import CaseError
from engine.review.desk import ReviewDesk
from engine.review.settings import ReviewConfig
from engine.web import console

MAX_BODY = 64 * 1024
COOKIE = "ceguard_console"
ANALYST = "analyst"
FIRM = "firm"

_CASE_ACTION = re.compile(r"^/(api|console)/cases/(\d+)(?:/([a-z-]+))?$")


class CaseServer:
    """The HTTP listener; start() serves from a daemon thread, stop() shuts it down."""

    def __init__(self, desk: ReviewDesk, config: ReviewConfig, log) -> None:
        self.desk = desk
        self.log = log
        self._tokens = {token: (ANALYST, name) for name, token in config.analysts.items()}
        self._tokens.update({token: (FIRM, firm) for firm, token in config.firm_tokens.items()})
        self._sessions: dict[str, str] = {}  # console cookie -> analyst
        host, port = config.listen
        self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}"

    def start(self) -> None:
        threading.Thread(target=self.httpd.serve_forever, name="case-api", daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def who(self, token: str) -> tuple[str, str] | None:
        for known, identity in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return identity
        return None

    def login(self, token: str) -> str | None:
        identity = self.who(token)
        if identity is None or identity[0] != ANALYST:
            return None
        session = secrets.token_urlsafe(32)
        self._sessions[session] = identity[1]
        return session

    def analyst_of(self, cookie: str) -> str | None:
        return self._sessions.get(cookie)


def _handler(server: CaseServer) -> type[BaseHTTPRequestHandler]:
    desk = server.desk

    class Handler(BaseHTTPRequestHandler):
        server_version = "ceguard"

        def log_message(self, format: str, *args: object) -> None:
            pass  # access logs are not events a person must read; refusals are counted

        def do_GET(self) -> None:
            self._guarded(self._get)

        def do_POST(self) -> None:
            self._guarded(self._post)

        # Dispatch.

        def _get(self, path: str, query: dict) -> None:
            if path == "/api/cases":
                kind, name = self._api_caller()
                states = tuple(s for s in query.get("state", [""])[0].split(",") if s)
                self._json(200, {"cases": desk.list(states, name if kind == FIRM else None)})
            elif (match := _CASE_ACTION.match(path)) and match[1] == "api" and not match[3]:
                kind, name = self._api_caller()
                self._json(200, desk.view(int(match[2]), name if kind == FIRM else None))
            elif path in ("/", "/console"):
                analyst = self._console_caller()
                if analyst is not None:
                    show = query.get("show", ["open"])[0]
                    self._html(200, console.case_list(desk.list(), analyst, show))
            elif path == "/console/login":
                self._html(200, console.login_page(None))
            elif (match := _CASE_ACTION.match(path)) and match[1] == "console" and not match[3]:
                analyst = self._console_caller()
                if analyst is not None:
                    case_id = int(match[2])
                    self._html(200, console.case_page(desk.view(case_id), desk.chart(case_id),
                                                      analyst))
            else:
                raise CaseError(404, f"no page {path}")

        def _post(self, path: str, query: dict) -> None:
            if path == "/console/login":
                form = self._form()
                session = server.login(form.get("token", ""))
                if session is None:
                    desk.metrics.api_errors.labels("401").inc()
                    self._html(401, console.login_page("That is not an analyst's token."))
                    return
                self._redirect("/console", cookie=session)
                return
            if path.startswith("/console/"):
                self._console_post(path)
                return
            kind, name = self._api_caller()
            body = self._body()
            if path == "/api/requests":
                self._need(kind, FIRM)
                self._json(201, desk.file_request(name, _text(body, "exec_id"),
                                                  _text(body, "reason"),
                                                  bool(body.get("routed", False))))
            elif path == "/api/events":
                self._need(kind, ANALYST)
                ids = body.get("case_ids")
                if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
                    raise CaseError(400, "'case_ids' must be a list of case numbers")
                self._json(201, desk.declare_event(ids, name, _text(body, "reason")))
            elif (match := _CASE_ACTION.match(path)) and match[1] == "api" and match[3]:
                self._json(200, self._act(int(match[2]), match[3], kind, name, body))
            else:
                raise CaseError(404, f"no action {path}")

        def _act(self, case_id: int, action: str, kind: str, name: str, body: dict):
            if action == "appeal":
                self._need(kind, FIRM)
                return desk.appeal(case_id, name, _text(body, "reason"))
            self._need(kind, ANALYST)
            if action == "take":
                return desk.take(case_id, name)
            if action == "determine":
                return desk.determine(case_id, name, _text(body, "outcome"),
                                      _text(body, "reason"))
            if action == "appeal-decision":
                return desk.decide_appeal(case_id, name, _text(body, "outcome"),
                                          _text(body, "reason"))
            if action == "dissolve":
                return {"cases": desk.dissolve_event(case_id, name, _text(body, "reason"))}
            raise CaseError(404, f"no action {action!r} on a case")

        def _console_post(self, path: str) -> None:
            analyst = self._console_caller()
            if analyst is None:
                return
            form = self._form()
            if path == "/console/events":
                ids = [int(i) for i in form.get("case_ids", "").split(",") if i.isdigit()]
                ids += [int(v) for k, v in form.items() if k.startswith("case-") and v.isdigit()]
                case = desk.declare_event(ids, analyst, form.get("reason", ""))
                self._redirect(f"/console/cases/{case['id']}")
                return
            match = _CASE_ACTION.match(path)
            if not match or not match[3]:
                raise CaseError(404, f"no action {path}")
            result = self._act(int(match[2]), match[3], ANALYST, analyst, form)
            target = f"/console/cases/{match[2]}" if "id" in result else "/console"
            self._redirect(target)

        # Callers.

        def _api_caller(self) -> tuple[str, str]:
            header = self.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            identity = server.who(token.strip()) if scheme.lower() == "bearer" else None
            if identity is None:
                raise CaseError(401, "give a valid token: Authorization: Bearer <token>")
            return identity

        def _console_caller(self) -> str | None:
            cookies = self.headers.get("Cookie", "")
            for part in cookies.split(";"):
                key, _, value = part.strip().partition("=")
                if key == COOKIE and (analyst := server.analyst_of(value)):
                    return analyst
            self._redirect("/console/login")
            return None

        @staticmethod
        def _need(kind: str, wanted: str) -> None:
            if kind != wanted:
                raise CaseError(403, f"only {'an analyst' if wanted == ANALYST else 'a firm'} "
                                "may do this")

        # Input and output.

        def _raw_body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise CaseError(400, f"the body is larger than {MAX_BODY} bytes")
            return self.rfile.read(length)

        def _body(self) -> dict:
            raw = self._raw_body()
            try:
                body = json.loads(raw or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise CaseError(400, f"the body is not JSON ({exc})") from exc
            if not isinstance(body, dict):
                raise CaseError(400, "the body must be a JSON object")
            return body

        def _form(self) -> dict[str, str]:
            text = self._raw_body().decode("utf-8", "replace")
            return {k: v[0] for k, v in parse_qs(text).items()}

        def _guarded(self, action) -> None:
            url = urlsplit(self.path)
            try:
                action(url.path.rstrip("/") or "/", parse_qs(url.query))
            except CaseError as exc:
                self._refused(exc.status, str(exc))
            except Exception:
                server.log.exception("case_api_failed", path=url.path)
                self._refused(500, "internal error (logged)")

        def _refused(self, status: int, message: str) -> None:
            desk.metrics.api_errors.labels(str(status)).inc()
            if self.path.startswith("/console"):
                self._html(status, console.error_page(status, message))
            else:
                self._json(status, {"error": message})

        def _json(self, status: int, payload: object) -> None:
            self._send(status, "application/json", json.dumps(payload).encode())

        def _html(self, status: int, page: str) -> None:
            self._send(status, "text/html; charset=utf-8", page.encode())

        def _redirect(self, location: str, cookie: str | None = None) -> None:
            self.send_response(303)
            self.send_header("Location", location)
            if cookie is not None:
                self.send_header("Set-Cookie", f"{COOKIE}={cookie}; HttpOnly; "
                                 "SameSite=Strict; Path=/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _send(self, status: int, kind: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _text(body: dict, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CaseError(400, f"'{key}' is missing (a non-empty string)")
    return value.strip()
