"""Logons on the wire for the security tests: raw sockets (plain or TLS), a QuickFIX
initiator that sends Username/Password, and a `ceguard serve` with [auth]/[tls] added."""

from __future__ import annotations

import socket
import ssl
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import quickfix as fix

from engine.sim.dropcopy import fix_time
from engine.sim.live import Peer, initiator_settings
from tests.live import Server, fields, free_port, wait_for, write_instruments


def serve_with(directory: Path, extra_toml: str, overrides: str = "") -> Server:
    """`ceguard serve` on the shipped cfg (AllowedRemoteAddresses=127.0.0.1) plus extra TOML
    tables and extra [fix.overrides] lines."""
    write_instruments(directory / "instruments.csv")
    server = Server(directory, free_port(), free_port())
    server.write_config(directory / "instruments.csv")
    text = server.config.read_text().replace("[fix.overrides]\n", f"[fix.overrides]\n{overrides}\n")
    server.config.write_text(text + extra_toml)
    server.start()
    return server


def logon(sender: str, begin: str = "FIX.4.4", username: str | None = None,
          password: str | None = None, seq: int = 1, reset: bool = False,
          new_password: str | None = None) -> bytes:
    body = [(35, "A"), (49, sender), (56, "CEGUARD"), (34, str(seq)),
            (52, fix_time(datetime.now(timezone.utc))), (98, "0"), (108, "30")]
    if reset:
        body.append((141, "Y"))  # ResetSeqNumFlag
    if username is not None:
        body.append((553, username))
    if password is not None:
        body.append((554, password))
    if new_password is not None:
        body.append((925, new_password))
    # latin-1: one byte per character, so a test can send bytes that are not UTF-8.
    data = "".join(f"{tag}={value}\x01" for tag, value in body).encode("latin-1")
    head = f"8={begin}\x019={len(data)}\x01".encode()
    return head + data + b"10=%03d\x01" % (sum(head + data) % 256)


def connect(port: int, source: str = "127.0.0.1", tls: ssl.SSLContext | None = None,
            ) -> socket.socket:
    """A TCP (or TLS) connection to the acceptor from `source` (any 127.x.y.z works)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    return tls.wrap_socket(sock, server_hostname="127.0.0.1") if tls else sock


def exchange(sock: socket.socket, message: bytes) -> list[dict[int, str]]:
    """Send `message`, read until the acceptor closes the connection (or 10 s pass);
    the FIX messages received."""
    sock.sendall(message)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
            if b"\x0135=A\x01" in data and data.endswith(b"\x01"):  # logged on: stays open
                break
    except (ConnectionResetError, ssl.SSLError, TimeoutError):
        pass
    finally:
        sock.close()
    messages = data.decode("latin-1").split("\x0110=")
    return [fields(m + "\x01") for m in messages if "35=" in m]


class CredentialPeer(Peer):
    """A Peer whose Logon carries Username (553) and Password (554)."""

    def __init__(self, username: str, password: str) -> None:
        super().__init__()
        self.username, self.password = username, password

    def toAdmin(self, message, session_id):
        if message.getHeader().getField(35) == "A":
            message.setField(553, self.username)
            message.setField(554, self.password)


def make_certificate(directory: Path, name: str = "server",
                     ca: tuple[Path, Path] | None = None) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and its key (openssl CLI): self-signed, or
    signed by `ca` (its certificate and key)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subject = ["-subj", f"/CN=ceguard-test-{name}", "-addext", "subjectAltName=IP:127.0.0.1"]
    new_key = ["-newkey", "rsa:2048", "-nodes", "-keyout", str(key)]
    if ca is None:
        _openssl("req", "-x509", *new_key, "-days", "1", *subject, "-out", str(cert))
    else:
        request, extensions = directory / f"{name}.csr", directory / f"{name}.ext"
        extensions.write_text("subjectAltName=IP:127.0.0.1\n")  # x509 -req drops the CSR's
        _openssl("req", *new_key, *subject, "-out", str(request))
        _openssl("x509", "-req", "-in", str(request), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
                 "-CAcreateserial", "-days", "1", "-extfile", str(extensions), "-out", str(cert))
    return cert, key


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def server_files(server: Server) -> dict[Path, bytes]:
    """Every file the server wrote: FIX logs and stores, the journal (+WAL), its stdout log."""
    return {path: path.read_bytes() for path in server.directory.rglob("*")
            if path.is_file() and path.suffix not in (".toml", ".csv")}


class CredentialInitiator:
    """A QuickFIX initiator (plain or TLS) for one FIX.4.4 session, logging on with
    credentials."""

    def __init__(self, port: int, state: Path, sender: str, username: str, password: str,
                 tls: bool = False) -> None:
        self.peer = CredentialPeer(username, password)
        self.session = f"FIX.4.4:{sender}->CEGUARD"
        settings = initiator_settings("127.0.0.1", port, state, [("FIX.4.4", sender, "CEGUARD")])
        kind = fix.SSLSocketInitiator if tls else fix.SocketInitiator
        self._initiator = kind(self.peer, fix.FileStoreFactory(settings), settings,
                               fix.FileLogFactory(settings))
        self._initiator.start()

    def wait_logon(self, timeout: float = 15.0) -> None:
        wait_for(lambda: self.peer.logged_on(self.session), timeout, f"{self.session} logon")

    def stop(self) -> None:
        self._initiator.stop()
