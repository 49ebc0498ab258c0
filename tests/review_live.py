"""`ceguard serve` in review mode for the tests: tokens, the case API, FIX messages."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from tests.live import Server, fields, free_port, write_instruments

TOKENS = {"alice": "analyst-alice-0123456789abcdef", "FIRMA": "firm-a-token-0123456789abcdef",
          "FIRMB": "firm-b-token-0123456789abcdef"}


class ReviewServer(Server):
    api_port: int = 0

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def call(self, who: str, method: str, path: str, body: dict | None = None
             ) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.api + path, data=data, method=method, headers={
            "Authorization": f"Bearer {TOKENS[who]}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def ok(self, who: str, method: str, path: str, body: dict | None = None) -> dict:
        status, payload = self.call(who, method, path, body)
        assert status in (200, 201), (status, payload)
        return payload

    def case_of(self, exec_id: str) -> dict | None:
        for case in self.ok("alice", "GET", "/api/cases")["cases"]:
            if exec_id in case["exec_ids"] and case["state"] not in ("merged", "dissolved"):
                return case
        return None


def start_review_server(directory: Path, settle_seconds: float = 0, **review: float
                        ) -> ReviewServer:
    write_instruments(directory / "instruments.csv")
    server = ReviewServer(directory, free_port(), free_port())
    server.api_port = free_port()
    server.write_config(directory / "instruments.csv", settle_seconds)
    secrets = directory / "secrets"
    secrets.mkdir()
    for who, token in TOKENS.items():
        (secrets / who).write_text(token + "\n")
    settings = "".join(f"{key} = {value}\n" for key, value in review.items())
    server.config.write_text(server.config.read_text() + f"""
[review]
mode = "review"
listen = "127.0.0.1:{server.api_port}"
{settings}
[review.analysts]
alice = "file:secrets/alice"
[review.firm_tokens]
FIRMA = "file:secrets/FIRMA"
FIRMB = "file:secrets/FIRMB"
""")
    server.start()
    return server


def of_type(peer, session: str, msg_type: str) -> list[dict[int, str]]:
    return [fields(raw) for raw in peer.messages(session) if fields(raw).get(35) == msg_type]


def raw_of_type(peer, session: str, msg_type: str) -> list[str]:
    return [raw for raw in peer.messages(session) if fields(raw).get(35) == msg_type]


def active_cases(server: ReviewServer) -> list[dict]:
    """The analyst's list of cases, less those merged into an event or dissolved."""
    return [c for c in server.ok("alice", "GET", "/api/cases")["cases"]
            if c["state"] not in ("merged", "dissolved")]
