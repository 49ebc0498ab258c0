"""peer.js (jspurefix, an independent FIX engine) as a process a test drives: commands on
its stdin, its events read back from the JSON-lines file it writes."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent
STOP_TIMEOUT = 30.0
LOGON_TIMEOUT = 60.0


def peer_session(name: str, ceguard_session: str) -> dict:
    """peer.js's description of the initiator for one of ceguard's sessions (given as
    ceguard's session id, e.g. FIX.4.4:CEGUARD->FIRMA), with jspurefix's stock dictionary."""
    begin, _, pair = ceguard_session.partition(":")
    acceptor, _, sender = pair.partition("->")
    session = {"name": name, "begin": begin, "sender": sender, "target": acceptor,
               "dictionary": "qf44"}
    if begin == "FIXT.1.1":
        session.update(dictionary="qf50sp2", logon={"DefaultApplVerID": "9"})
    elif begin != "FIX.4.4":
        raise ValueError(f"peer.js has no dictionary chosen for {begin}")
    return session


class JspurefixPeer:
    """A running peer.js with its sessions; see peer.js for the commands and events."""

    def __init__(self, directory: Path, port: int, sessions: list[dict]) -> None:
        if shutil.which("node") is None or not (PEER_DIR / "node_modules" / "jspurefix").is_dir():
            raise AssertionError("jspurefix is not installed: run `make test` (or `npm ci` in "
                                 f"{PEER_DIR})")
        self.out = directory / "jspurefix.jsonl"
        self.log = directory / "jspurefix.log"  # jspurefix's own log (winston, stdout)
        config = directory / "jspurefix.json"
        config.write_text(json.dumps({"host": "127.0.0.1", "port": port, "out": str(self.out),
                                      "sessions": sessions}))
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(["node", str(PEER_DIR / "peer.js"), str(config)],
                                            stdin=subprocess.PIPE, stdout=log,
                                            stderr=subprocess.STDOUT, text=True)

    def wait_ready(self, sessions: int) -> None:
        """Wait until `sessions` sessions are logged on (their Logon answered)."""
        deadline = time.monotonic() + LOGON_TIMEOUT
        while (len(self.events("ready")) < sessions and self.process.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.05)
        ready = [e["session"] for e in self.events("ready")]
        assert len(ready) == sessions, (f"logged on within {LOGON_TIMEOUT:.0f} s: {ready}; "
                                        f"jspurefix's log ends:\n{self.log.read_text()[-3000:]}")

    def command(self, **request) -> None:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def send(self, session: str, messages: list[dict]) -> None:
        self.command(cmd="send", session=session, messages=messages)

    def lose(self, session: str, count: int) -> None:
        """The next `count` MsgSeqNums of `session` are lost on the wire."""
        self.command(cmd="lose", session=session, count=count)

    def events(self, event: str | None = None, session: str | None = None) -> list[dict]:
        if not self.out.exists():
            return []
        text = self.out.read_text()
        lines = text.splitlines()[:None if text.endswith("\n") else -1]  # one being written
        return [e for e in map(json.loads, lines)
                if (event is None or e["event"] == event)
                and (session is None or e.get("session") == session)]

    def received(self, session: str, msg_type: str) -> list[dict[str, str]]:
        """Fields of each `msg_type` message decoded on `session`, checked or not."""
        return [e["fields"] for e in self.events("received", session) if e["msgType"] == msg_type]

    def busts(self, session: str) -> list[dict[str, str]]:
        return [f for f in self.received(session, "8") if f.get("150") == "H"]

    def rejects(self, session: str) -> str:
        """jspurefix's Rejects (35=3) and BusinessMessageRejects (35=j) sent on `session`,
        and its log's lines about them; empty when there were none."""
        sent = [e["text"] for e in self.events("sent", session) if e["msgType"] in ("3", "j")]
        logged = [line for line in open(self.log)
                  if f"[{session}:" in line and "reject" in line.lower()]  # its logger's name
        return "\n".join(sent + logged)

    def stop(self) -> None:
        """Log every session out and wait for the process to end."""
        if self.process.poll() is None:
            self.command(cmd="stop")
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise AssertionError("jspurefix did not log out; its log ends:\n"
                                     + self.log.read_text()[-3000:])
