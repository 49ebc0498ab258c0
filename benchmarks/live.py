"""The live path: `ceguard serve` against a bare QuickFIX acceptor, on loopback, in one run.

Measures, each against a fresh process on fresh files:
  - throughput: fills/s `ceguard serve` judges (QuickFIX acceptor with FileStore and
    FileLog, decoder, core, journal, metrics), with the shipped `synchronous = "full"` and
    with "normal", against a bare QuickFIX Python acceptor on the same session settings
    whose fromApp does nothing, and one whose fromApp only takes the message's text (the
    least any engine in Python does); with the CPU the process used (cores) and its
    busiest thread's share: a process near 1 core whose threads are each well below it
    is bound by the GIL;
  - latency: fill sent to its bust received, at a fixed rate, settle window 0;
  - memory: resident memory of serve as fills over many symbols add up;
  - start-up: process start to the first fill judged, numba cache cold and warm.

The load generator is this process: after a real Logon over a raw socket it writes
pre-encoded ExecutionReports (correct MsgSeqNum, BodyLength, CheckSum, a fresh
SendingTime) with sendall. Its own rate is measured into a socket that only discards.
A rate is fills journaled per second: the time from the first byte sent to the later of
the Heartbeat that answers a TestRequest sent after the last fill (QuickFIX handles a
session's messages in order: every fill has been through fromApp) and the journal
holding the last fill (ceguard commits the fills fromApp took in batches, from a
thread of its own). Prints a table; asserts nothing. The figures go in
benchmarks/README.md.

    .venv/bin/python benchmarks/live.py [--fills 200000] [--memory-fills 1000000] ...
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CFG = ROOT / "fix_configs" / "ceguard.cfg"
SOH = "\x01"
BEGIN = "FIX.4.4"
SENDER, TARGET = "MATCHING1", "CEGUARD"
VENUE_SESSION = f"{BEGIN}:{TARGET}->{SENDER}"
START_TIMEOUT = 120.0


# The messages.

def encode(fields: str) -> bytes:
    """8=, 9= and 10= around a body of `tag=value<SOH>` fields."""
    body = fields.encode("latin-1")
    head = f"8={BEGIN}{SOH}9={len(body)}{SOH}".encode()
    return head + body + f"10={(sum(head) + sum(body)) % 256:03d}{SOH}".encode()


def fix_now(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(timezone.utc)
    return moment.strftime("%Y%m%d-%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


class Flow:
    """Drop copies of one matching engine session: each fill its own aggressing order.

    Ordinary prints stay within 1% of the symbol's close, so they always stand; a bust
    print is 25% above the close, erroneous against any reference it can have.
    """

    def __init__(self, symbols: int, seed: int = 5) -> None:
        rng = random.Random(seed)
        self.closes = [round(rng.uniform(20, 60), 2) for _ in range(symbols)]
        self.rng = rng
        self.seq = 1  # the next MsgSeqNum
        self.fill = 0
        self.clock = datetime(2026, 1, 15, 14, 40, tzinfo=timezone.utc)  # regular hours

    def instruments_csv(self) -> str:
        rows = ["symbol,leverage,prev_close"]
        rows += [f"Z{i:05d},1,{close:.2f}" for i, close in enumerate(self.closes)]
        return "\n".join(rows) + "\n"

    def header(self, msg_type: str) -> str:
        text = f"35={msg_type}{SOH}34={self.seq}{SOH}49={SENDER}{SOH}52={fix_now()}{SOH}" \
               f"56={TARGET}{SOH}"
        self.seq += 1
        return text

    def logon(self) -> bytes:
        return encode(self.header("A") + f"98=0{SOH}108=60{SOH}")

    def test_request(self, ident: str) -> bytes:
        return encode(self.header("1") + f"112={ident}{SOH}")

    def heartbeat(self, ident: str | None) -> bytes:
        return encode(self.header("0") + (f"112={ident}{SOH}" if ident else ""))

    def fills(self, count: int, bust_every: int = 0) -> tuple[list[bytes], dict[str, int]]:
        """`count` drop copies; every `bust_every`-th one erroneous. Returns the messages
        and, for the erroneous ones, ExecID -> index in the list."""
        rng = self.rng
        closes = self.closes
        header = f"{SOH}49={SENDER}{SOH}52={fix_now()}{SOH}56={TARGET}{SOH}"
        out = []
        busts = {}
        for i in range(count):
            self.fill += 1
            n = self.fill
            symbol = rng.randrange(len(closes))
            close = closes[symbol]
            if bust_every and i % bust_every == bust_every - 1:
                price = f"{close * 1.25:.2f}"
                busts[f"X{n}"] = i
            else:
                price = f"{close * (1 + rng.uniform(-0.005, 0.005)):.2f}"
            when = fix_now(self.clock + timedelta(microseconds=n * 500))
            side = "1" if n % 2 else "2"
            firm = "FIRMA" if n % 2 else "FIRMB"
            out.append(encode(
                f"35=8{SOH}34={self.seq}{header}6={price}{SOH}11=C{n}{SOH}14=100{SOH}"
                f"17=X{n}{SOH}30=XNAS{SOH}31={price}{SOH}32=100{SOH}37=O{n}{SOH}38=100{SOH}"
                f"39=2{SOH}54={side}{SOH}55=Z{symbol:05d}{SOH}60={when}{SOH}150=F{SOH}"
                f"151=0{SOH}453=1{SOH}448={firm}{SOH}447=D{SOH}452=1{SOH}880=T{n}{SOH}"
                f"1057=Y{SOH}"))
            self.seq += 1
        return out, busts


# The load generator's connection.

def split_messages(buffer: bytearray) -> list[bytes]:
    """Complete FIX messages at the front of `buffer` (removed from it)."""
    out = []
    while True:
        end = buffer.find(b"\x0110=")
        if end < 0 or len(buffer) < end + 8:
            return out
        out.append(bytes(buffer[:end + 8]))
        del buffer[:end + 8]


def field(message: bytes, tag: bytes) -> bytes | None:
    start = message.find(b"\x01" + tag + b"=")
    if start < 0:
        return None
    start += len(tag) + 2
    return message[start:message.index(b"\x01", start)]


class Connection:
    """A raw-socket initiator session after a real Logon; a thread reads what comes back."""

    def __init__(self, port: int, flow: Flow, timeout: float = START_TIMEOUT) -> None:
        self.flow = flow
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self.sock.settimeout(None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.logged_on = threading.Event()
        self.replies: dict[str, float] = {}  # TestReqID -> time its Heartbeat arrived
        self.busts: dict[str, float] = {}  # busted ExecID -> time its bust arrived
        self.rejects: list[bytes] = []
        self._reply = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.sock.sendall(flow.logon())
        if not self.logged_on.wait(timeout):
            raise RuntimeError("no Logon reply")

    def _read(self) -> None:
        buffer = bytearray()
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                return
            now = time.perf_counter()
            if not data:
                return
            buffer += data
            for message in split_messages(buffer):
                msg_type = field(message, b"35")
                if msg_type == b"A":
                    self.logged_on.set()
                elif msg_type == b"0":
                    ident = field(message, b"112")
                    if ident:
                        with self._reply:
                            self.replies[ident.decode()] = now
                            self._reply.notify_all()
                elif msg_type == b"1":  # answer the acceptor's TestRequest
                    ident = field(message, b"112")
                    self.sock.sendall(self.flow.heartbeat(ident.decode() if ident else None))
                elif msg_type == b"8" and field(message, b"150") == b"H":
                    self.busts[field(message, b"19").decode()] = now
                elif msg_type in (b"3", b"j", b"5", b"2"):
                    self.rejects.append(message)

    def sync(self, timeout: float = 600.0) -> float:
        """Send a TestRequest; the perf_counter time its Heartbeat came back."""
        ident = f"sync{self.flow.seq}"
        self.sock.sendall(self.flow.test_request(ident))
        with self._reply:
            if not self._reply.wait_for(lambda: ident in self.replies, timeout):
                raise RuntimeError(f"no Heartbeat for TestRequest {ident} in {timeout:.0f} s"
                                   f"; rejects: {self.rejects[:3]}")
            return self.replies[ident]

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def blast(conn: Connection, messages: list[bytes], server: Server | None = None
          ) -> tuple[float, float]:
    """Write all messages as fast as the socket takes them; (seconds until judged and,
    for ceguard, journaled, seconds the writes took)."""
    data = b"".join(messages)
    started = time.perf_counter()
    conn.sock.sendall(data)
    written = time.perf_counter()
    done = conn.sync()
    if server is not None and not server.bare:
        target = conn.flow.fill  # every fill generated so far has been written
        while server.last_journaled() < target:
            time.sleep(0.002)
        done = max(done, time.perf_counter())
    return done - started, written - started


def _discard(listener: socket.socket) -> None:
    peer, _ = listener.accept()
    buffer = bytearray(1 << 20)
    while peer.recv_into(buffer):
        pass


def generator_rate(messages: list[bytes]) -> float:
    """Messages/s the generator writes into a socket whose reader (another process)
    only discards: what it can offer, whatever the acceptor does."""
    listener = socket.create_server(("127.0.0.1", 0))
    sink = multiprocessing.Process(target=_discard, args=(listener,), daemon=True)
    sink.start()
    sock = socket.create_connection(listener.getsockname())
    data = b"".join(messages)
    started = time.perf_counter()
    sock.sendall(data)
    seconds = time.perf_counter() - started
    sock.close()
    sink.join(10)
    listener.close()
    return len(messages) / seconds


# The servers.

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`ceguard serve` or the bare acceptor, in its own directory on its own ports."""

    def __init__(self, base: Path, name: str, flow: Flow, synchronous: str | None,
                 env: dict[str, str] | None = None, copy: bool = False) -> None:
        self.directory = base / name
        self.directory.mkdir()
        self.name = name
        self.bare = synchronous is None
        self.port = free_port()
        self.metrics_port = free_port()
        (self.directory / "instruments.csv").write_text(flow.instruments_csv())
        self.config = self.directory / "ceguard.toml"
        self.config.write_text(f"""
[fix]
settings = "{SHIPPED_CFG}"
[fix.overrides]
SocketAcceptPort = "{self.port}"
FileStorePath = "store"
FileLogPath = "fixlog"
[surveillance]
instruments = "instruments.csv"
settle_seconds = 0
[journal]
path = "journal.sqlite"
synchronous = "{synchronous or 'full'}"
[metrics]
listen = "127.0.0.1:{self.metrics_port}"
[firms]
FIRMA = "FIX.4.4:CEGUARD->FIRMA"
FIRMB = "FIX.4.4:CEGUARD->FIRMB"
""")
        command = [sys.executable, "-m", "engine", "serve", "--config", str(self.config)]
        if self.bare:
            command = [sys.executable, str(Path(__file__).resolve()), "--bare-acceptor",
                       str(self.config)] + (["--copy"] if copy else [])
        self.log = open(self.directory / "serve.log", "w")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.directory,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})

    @property
    def pid(self) -> int:
        return self.process.pid

    def last_journaled(self) -> int:
        """The journal's last fill number (fills are numbered from 1, in arrival order)."""
        with sqlite3.connect(self.directory / "journal.sqlite") as db:
            return db.execute("SELECT COALESCE(MAX(seq), 0) FROM fills").fetchone()[0]

    def journaled(self) -> int:
        with sqlite3.connect(self.directory / "journal.sqlite") as db:
            return db.execute("SELECT COUNT(*) FROM fills").fetchone()[0]

    def memory(self) -> dict[str, int]:
        """VmRSS, RssAnon, RssFile in kB."""
        out = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0])
        return out

    def metric_lines(self, prefix: str) -> list[str]:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return [line for line in response.read().decode().splitlines()
                    if line.startswith(prefix)]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def bare_acceptor(config_path: str, copy: bool) -> int:
    """A QuickFIX acceptor on ceguard's session settings whose callbacks do nothing
    (copy: fromApp takes the message's and the session's text, and drops them)."""
    import quickfix as fix

    from engine.config import load_config
    from engine.fix.settings import load_session_settings

    class Nothing(fix.Application):
        def onCreate(self, session_id): pass
        def onLogon(self, session_id): pass
        def onLogout(self, session_id): pass
        def toAdmin(self, message, session_id): pass
        def fromAdmin(self, message, session_id): pass
        def toApp(self, message, session_id): pass
        def fromApp(self, message, session_id):
            if copy:  # what any Python engine must do at least: take the message's text
                message.toString().encode("latin-1")
                session_id.toString()

    config = load_config(config_path)
    settings = load_session_settings(config.fix_settings, config.fix_overrides,
                                     config.source.resolve().parent).settings
    app = Nothing()
    acceptor = fix.SocketAcceptor(app, fix.FileStoreFactory(settings), settings,
                                  fix.FileLogFactory(settings))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    acceptor.start()
    print("serving", flush=True)
    while not stop.wait(0.1):
        pass
    acceptor.stop()
    return 0


# Profiling (optional: py-spy on PATH or in the venv).

def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def start_profile(server: Server, seconds: int, out: Path) -> subprocess.Popen | None:
    tool = py_spy()
    if tool is None:
        return None
    return subprocess.Popen([tool, "record", "-p", str(server.pid), "-d", str(seconds),
                             "-r", "200", "--format", "raw", "-o", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarize_profile(path: Path, top: int = 12) -> str:
    """Self and inclusive shares of the functions in py-spy's collapsed stacks."""
    if not path.exists():
        return f"(no profile at {path})"
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        stack = stack or "(no Python frame)"
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1]
                  + ")" if " (" in f else f for f in stack.split(";")]
        total += n
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
    lines = [f"{total} samples; self time:"]
    for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * n / total:5.1f}%  {frame}")
    lines.append("inclusive:")
    for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top + 8]:
        lines.append(f"  {100 * n / total:5.1f}%  {frame}")
    return "\n".join(lines)


# The measurements.

def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) each thread of the process has used, by thread id."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def throughput(base: Path, name: str, synchronous: str | None, symbols: int, warmup: int,
               fills: int, profile: Path | None, copy: bool = False) -> dict:
    flow = Flow(symbols)
    server = Server(base, name, flow, synchronous, copy=copy)
    try:
        conn = Connection(server.port, flow)
        blast(conn, flow.fills(warmup)[0])  # kernels compiled, tables touched
        messages, _ = flow.fills(fills)
        spy = None
        if profile is not None:
            spy = start_profile(server, 15, profile)
            time.sleep(1.5)  # py-spy attaches
        before = thread_cpu(server.pid)
        seconds, written = blast(conn, messages, server)
        after = thread_cpu(server.pid)
        busy = sorted((after[t] - before.get(t, 0.0)) / seconds for t in after)[::-1]
        if spy is not None:
            spy.wait()
        result = {"fills": fills, "seconds": seconds, "rate": fills / seconds,
                  "write_seconds": written, "rejects": len(conn.rejects),
                  "cpu": sum(busy), "busiest": busy[0]}
        if not server.bare:
            result["journaled"] = server.journaled()
        conn.close()
        return result
    finally:
        server.stop()


def memory(base: Path, symbols: int, checkpoints: list[int], profile: Path | None) -> dict:
    """ceguard (synchronous normal) fed up to each checkpoint; rate and RSS at each.

    Each chunk is encoded just before it is sent: its SendingTime must stay within
    QuickFIX's MaxLatency (120 s) of its arrival.
    """
    flow = Flow(symbols)
    server = Server(base, "memory", flow, "normal")
    rows = []
    try:
        conn = Connection(server.port, flow)
        done = 0
        for number, checkpoint in enumerate(checkpoints):
            messages, _ = flow.fills(checkpoint - done)
            spy = start_profile(server, 15, profile) if profile and number == 1 else None
            if spy is not None:
                time.sleep(1.5)  # py-spy attaches
            seconds, _ = blast(conn, messages, server)
            if spy is not None:
                spy.wait()
            done = checkpoint
            rows.append({"fills": done, "chunk_rate": len(messages) / seconds,
                         "journaled": server.journaled(), **server.memory()})
        conn.close()
        return {"rows": rows, "rejects": len(conn.rejects)}
    finally:
        server.stop()


BUST_HISTOGRAM = "ceguard_fill_to_bust_latency_seconds_bucket"


def subtract_counts(lines: list[str], before: list[str]) -> list[str]:
    """Prometheus sample lines with the counts of `before` (the same series) taken off."""
    earlier = dict(line.rsplit(" ", 1) for line in before)
    return [f"{series} {float(count) - float(earlier.get(series, 0)):.0f}"
            for series, count in (line.rsplit(" ", 1) for line in lines)]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} in {timeout:.0f} s")
        time.sleep(0.01)


def latency(base: Path, name: str, synchronous: str, symbols: int, rate: float,
            seconds: float, bust_every: int, backlog_limit: float = 2.0) -> dict:
    """Fills at `rate` per second, paced; the time from sending an erroneous fill to its
    bust ExecutionReport arriving back on the same session (wall clock, this process).

    When a bust is still missing `backlog_limit` seconds after its fill was sent, the
    server is not keeping up with `rate`: sending stops there and the run says so (its
    latency would only measure the queue)."""
    flow = Flow(symbols)
    server = Server(base, name, flow, synchronous)
    try:
        conn = Connection(server.port, flow)
        # Warm-up through every path, a bust's included: first-use costs (code, pages) are
        # not what is measured. Measured from when all of it is journaled and busted.
        warm_up, warm_busts = flow.fills(2000, 10)
        blast(conn, warm_up, server)
        wait_until(lambda: all(exec_id in conn.busts for exec_id in warm_busts), 60,
                   "the warm-up's busts")
        histogram_before = server.metric_lines(BUST_HISTOGRAM)
        count = int(rate * seconds)
        messages, busts = flow.fills(count, bust_every)
        by_index = {i: exec_id for exec_id, i in busts.items()}
        sent_at: dict[str, float] = {}
        waiting: deque[tuple[str, float]] = deque()
        stalled = False
        started = time.perf_counter()
        i = 0
        while i < count and not stalled:
            now = time.perf_counter()
            due = min(count, int((now - started) * rate) + 1)
            if due > i:
                conn.sock.sendall(b"".join(messages[i:due]))
                for j in range(i, due):
                    if j in by_index:
                        sent_at[by_index[j]] = now
                        waiting.append((by_index[j], now))
                i = due
            else:
                time.sleep(0.0002)
            while waiting and waiting[0][0] in conn.busts:
                waiting.popleft()
            stalled = bool(waiting) and now - waiting[0][1] > backlog_limit
        sending = time.perf_counter() - started
        if not stalled:
            conn.sync()
            deadline = time.monotonic() + 30
            while any(exec_id not in conn.busts for exec_id in sent_at) and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
        waits = [conn.busts[e] - t for e, t in sent_at.items() if e in conn.busts]
        histogram = subtract_counts(server.metric_lines(BUST_HISTOGRAM), histogram_before)
        conn.close()
        if stalled:
            server.process.kill()  # do not wait for it to work off the backlog
        return {"fills": i, "busts": len(sent_at), "received": len(waits),
                "offered_rate": i / sending, "stalled": stalled, "seconds": sending,
                "p50": quantile(waits, 0.5), "p99": quantile(waits, 0.99),
                "p999": quantile(waits, 0.999), "max": max(waits),
                "histogram": histogram}
    finally:
        server.stop()


def startup(base: Path, name: str, symbols: int, cache: Path) -> float:
    """Process start to the first fill judged: the bust of an erroneous first fill
    arrives. `cache` is the NUMBA_CACHE_DIR (empty: cold)."""
    flow = Flow(symbols)
    server = Server(base, name, flow, "full", env={"NUMBA_CACHE_DIR": str(cache)})
    try:
        conn = Connection(server.port, flow)
        messages, busts = flow.fills(1, bust_every=1)
        conn.sock.sendall(messages[0])
        (exec_id,) = busts
        deadline = time.monotonic() + START_TIMEOUT
        while exec_id not in conn.busts and time.monotonic() < deadline:
            time.sleep(0.001)
        conn.close()
        return conn.busts[exec_id] - server.started
    finally:
        server.stop()


def fsync_ms(directory: Path, samples: int = 50) -> float:
    """Median time of a 4 KB write + fsync where the journals are: what bounds a
    synchronous=full commit."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    times = []
    try:
        for _ in range(samples):
            os.write(fd, b"x" * 4096)
            started = time.perf_counter()
            os.fsync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()
    return quantile(times, 0.5) * 1e3


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fills", type=int, default=200_000,
                        help="fills per throughput run (bare acceptor, ceguard normal)")
    parser.add_argument("--full-fills", type=int, default=200_000,
                        help="fills of the synchronous=full throughput run")
    parser.add_argument("--memory-fills", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=10_000)
    parser.add_argument("--latency-rate", type=float, default=5000)
    parser.add_argument("--latency-seconds", type=float, default=10)
    parser.add_argument("--bust-every", type=int, default=10,
                        help="one fill in this many is erroneous in the latency run")
    parser.add_argument("--profile", metavar="DIR",
                        help="py-spy the throughput runs (needs py-spy), collapsed stacks in DIR")
    parser.add_argument("--only", default="throughput,memory,latency,startup")
    parser.add_argument("--bare-acceptor", metavar="TOML", help=argparse.SUPPRESS)
    parser.add_argument("--copy", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_acceptor:
        return bare_acceptor(args.bare_acceptor, args.copy)
    only = set(args.only.split(","))
    profile_dir = Path(args.profile) if args.profile else None
    if profile_dir:
        profile_dir.mkdir(parents=True, exist_ok=True)

    load = os.getloadavg()
    print(f"ceguard live benchmark: {os.cpu_count()} cores, load average before "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; engine from {ROOT}", flush=True)
    sample, _ = Flow(args.symbols).fills(200_000)
    print(f"generator: {generator_rate(sample):,.0f} fills/s into a discarding socket "
          f"({sum(map(len, sample)) / len(sample):.0f} bytes per fill)", flush=True)
    results: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory(prefix="ceguard-live-") as tmp:
        base = Path(tmp)
        print(f"disk: fsync of 4 KB takes {fsync_ms(base):.2f} ms (median) in {base}", flush=True)
        if "throughput" in only:
            runs = [("bare", None, args.fills), ("bare-copy", None, args.fills),
                    ("full", "full", args.full_fills), ("normal", "normal", args.fills)]
            rates = {}
            labels = {"bare": "bare QuickFIX acceptor, fromApp does nothing",
                      "bare-copy": "bare acceptor, fromApp only takes the message's text"}
            for name, sync, fills in runs:
                spy = profile_dir / f"{name}.txt" if profile_dir and sync else None
                r = throughput(base, name, sync, args.symbols, 5000, fills, spy,
                               copy=name == "bare-copy")
                rates[name] = r["rate"]
                label = labels.get(name, f"ceguard serve, synchronous={sync}")
                check = f"journaled {r['journaled']:,}" if "journaled" in r else ""
                print(f"throughput {name}: {r['fills']:,} fills in {r['seconds']:.2f} s = "
                      f"{r['rate']:,.0f}/s (writes done after {r['write_seconds']:.2f} s; "
                      f"{r['rejects']} rejects) {check}", flush=True)
                results.append(("throughput", label, f"{r['rate']:,.0f} fills/s",
                                f"{r['rate'] / rates['bare']:.2f} of bare"
                                f" ({r['fills']:,} fills); CPU {r['cpu']:.2f} cores, "
                                f"busiest thread {r['busiest']:.2f}"))
                if spy:
                    print(summarize_profile(spy), flush=True)
        if "latency" in only:
            # The target rate, then rates each mode sustains on a slow disk and a busy
            # machine: latency without a queue in front of fromApp.
            for sync, rate in (("full", args.latency_rate), ("normal", args.latency_rate),
                               ("normal", args.latency_rate / 2.5),
                               ("full", args.latency_rate / 25)):
                r = latency(base, f"latency-{sync}-{rate:.0f}", sync, args.symbols, rate,
                            args.latency_seconds, args.bust_every)
                print(f"latency {sync}: {r['busts']} busts of {r['fills']:,} fills at "
                      f"{r['offered_rate']:,.0f}/s, {r['received']} received; engine histogram:"
                      f"\n  " + "\n  ".join(r["histogram"]), flush=True)
                figure = f"p50 {r['p50'] * 1e3:.2f} ms, p99 {r['p99'] * 1e3:.2f} ms, " \
                    f"p99.9 {r['p999'] * 1e3:.2f} ms"
                if r["stalled"]:
                    figure = f"not sustained: a bust > 2 s late after {r['seconds']:.1f} s"
                results.append(("latency", f"fill sent to bust received, synchronous={sync}",
                                figure,
                                f"{r['offered_rate']:,.0f} fills/s, {r['received']} busts, "
                                f"max {r['max'] * 1e3:.1f} ms"))
        if "memory" in only:
            points = [10_000, *range(250_000, args.memory_fills, 250_000)]
            spy = profile_dir / "memory-normal.txt" if profile_dir else None
            r = memory(base, args.symbols, points + [args.memory_fills], spy)
            for row in r["rows"]:
                print(f"memory: {row['fills']:,} fills (journaled {row['journaled']:,}): "
                      f"RSS {row['VmRSS'] / 1024:.0f} MiB (anon {row['RssAnon'] / 1024:.0f}, "
                      f"file {row['RssFile'] / 1024:.0f}); chunk at "
                      f"{row['chunk_rate']:,.0f} fills/s", flush=True)
                results.append(("memory", f"RSS after {row['fills']:,} fills, "
                                f"{args.symbols:,} symbols",
                                f"{row['VmRSS'] / 1024:.0f} MiB",
                                f"anon {row['RssAnon'] / 1024:.0f} MiB; "
                                f"{row['chunk_rate']:,.0f} fills/s"))
            if r["rejects"]:
                print(f"memory: {r['rejects']} rejects", flush=True)
            if spy:
                print(summarize_profile(spy), flush=True)
        if "startup" in only:
            cache = base / "numba-cache"
            cache.mkdir()
            cold = startup(base, "start-cold", args.symbols, cache)
            warm = startup(base, "start-warm", args.symbols, cache)
            results.append(("start-up", "process start to first bust, numba cache cold",
                            f"{cold:.2f} s", "NUMBA_CACHE_DIR empty"))
            results.append(("start-up", "process start to first bust, numba cache warm",
                            f"{warm:.2f} s", "same cache, filled by the cold run"))
    load = os.getloadavg()
    print(f"\nload average after {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    print(table(("what", "run", "figure", "notes"), results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
