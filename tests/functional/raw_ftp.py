"""A raw FTP control connection for exact reply codes and bad input, plus small test aids.

ftplib hides reply codes behind exceptions and will not send malformed lines; RawFtp sends
exactly the bytes a test gives it and returns each reply as (code, text). Every read is bounded
by a socket timeout, and every socket is closed by the context manager.
"""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.functional.ferryd_process import PLAIN_CONFIG, RunningFerryd, running_ferryd

TIMEOUT = 10.0
USER, PASSWORD = "alice", "wonderland"

# upload_mode=direct: these suites pin vsftpd's write-in-place behaviour (delete_failed_uploads,
# lock_upload_files, partial files); test_atomic_uploads.py covers ferryd's atomic default.
PLAIN = PLAIN_CONFIG + "upload_mode=direct\n"


@dataclass(frozen=True)
class Reply:
    code: int
    text: str  # every line of the reply, code included, joined by "\n"

    def __str__(self) -> str:
        return self.text


_PASV = re.compile(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)")
_EPSV = re.compile(r"\(\|\|\|(\d+)\|\)")


class RawFtp:
    """One control connection that sends bytes as given and reads replies line by line."""

    def __init__(self, host: str, port: int, *, timeout: float = TIMEOUT) -> None:
        self.host = host
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._buffer = b""
        self.greeting = self.reply()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawFtp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- bytes ------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, line: str | bytes) -> None:
        data = line.encode("utf-8") if isinstance(line, str) else line
        self.sock.sendall(data + b"\r\n")

    def _line(self) -> bytes:
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the server closed the control connection")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.rstrip(b"\r")

    def reply(self) -> Reply:
        """One whole reply; multi-line replies end at `NNN ` (RFC 959 4.2)."""
        first = self._line().decode("utf-8", "surrogateescape")
        lines = [first]
        code = first[:3]
        if first[3:4] == "-":
            for _ in range(100_000):
                line = self._line().decode("utf-8", "surrogateescape")
                lines.append(line)
                if line[:3] == code and line[3:4] == " ":
                    break
        return Reply(int(code), "\n".join(lines))

    def cmd(self, line: str | bytes) -> Reply:
        self.send(line)
        return self.reply()

    def login(self, user: str = USER, password: str = PASSWORD) -> Reply:
        first = self.cmd(f"USER {user}")
        assert first.code == 331, first
        return self.cmd(f"PASS {password}")

    def closed_by_server(self) -> bool:
        """True once the server has closed the connection (EOF within the timeout)."""
        try:
            for _ in range(10_000):
                if not self.sock.recv(65536):
                    return True
        except (TimeoutError, ConnectionResetError):
            return False
        return False

    # -- data connections -------------------------------------------------------------
    def pasv(self) -> socket.socket:
        reply = self.cmd("PASV")
        assert reply.code == 227, reply
        match = _PASV.search(reply.text)
        assert match is not None, reply
        numbers = [int(group) for group in match.groups()]
        host = ".".join(map(str, numbers[:4]))
        return socket.create_connection((host, numbers[4] * 256 + numbers[5]), timeout=TIMEOUT)

    def epsv(self) -> socket.socket:
        reply = self.cmd("EPSV")
        assert reply.code == 229, reply
        match = _EPSV.search(reply.text)
        assert match is not None, reply
        return socket.create_connection((self.host, int(match.group(1))), timeout=TIMEOUT)


def receive_all(sock: socket.socket, limit: int = 1 << 28) -> bytes:
    """Everything until EOF (bounded by `limit` bytes and the socket's timeout)."""
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def retrieve(raw: RawFtp, command: str) -> tuple[Reply, bytes, Reply]:
    """PASV, then a command that sends data (RETR, LIST, ...): 150, the bytes, the end reply."""
    with raw.pasv() as data:
        first = raw.cmd(command)
        if first.code >= 200:
            return first, b"", first
        payload = receive_all(data)
    return first, payload, raw.reply()


def store(raw: RawFtp, command: str, payload: bytes) -> tuple[Reply, Reply]:
    """PASV, then STOR/APPE/STOU with the payload: the 150 and the end reply."""
    with raw.pasv() as data:
        first = raw.cmd(command)
        if first.code >= 200:
            return first, first
        data.sendall(payload)
    return first, raw.reply()


@contextlib.contextmanager
def ftp_client(server: RunningFerryd, user: str = USER, password: str = PASSWORD,
               *, encoding: str = "utf-8") -> Iterator[ftplib.FTP]:
    """A logged-in ftplib client, closed (QUIT) on exit."""
    with ftplib.FTP(encoding=encoding) as client:
        client.connect(server.host, server.port, timeout=TIMEOUT)
        client.login(user, password)
        yield client


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `predicate` until it holds or the bounded deadline passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@contextlib.contextmanager
def shared_server(tmp_path_factory: object, config_text: str = PLAIN,
                  users: dict[str, str] | None = None) -> Iterator[RunningFerryd]:
    """A ferryd for a whole module (the fixture passes pytest's tmp_path_factory)."""
    folder: Path = tmp_path_factory.mktemp("ferryd")  # type: ignore[attr-defined]
    with running_ferryd(folder, config_text, users or {USER: PASSWORD}) as server:
        server.home(USER).mkdir(parents=True, exist_ok=True)
        yield server
