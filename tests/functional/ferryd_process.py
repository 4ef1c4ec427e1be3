"""Start a real ferryd (the installed CLI, in a subprocess) on 127.0.0.1 with port 0."""

from __future__ import annotations

import contextlib
import ftplib
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

STARTUP_TIMEOUT = 30.0
_LISTENING = re.compile(r"listening (ftp|ftps-implicit) on \[?([0-9a-f.:]+)\]?:(\d+)")


@dataclass
class RunningFerryd:
    process: subprocess.Popen[str]
    config_path: Path
    data_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    host: str = "127.0.0.1"
    stderr_lines: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.ports.get("ftp") or self.ports["ftps-implicit"]

    @property
    def implicit_port(self) -> int:
        return self.ports["ftps-implicit"]

    def home(self, user: str) -> Path:
        return self.data_dir / "home" / user

    def read_stderr(self) -> str:
        """Everything the server printed so far (non-blocking)."""
        stream = self.process.stderr
        assert stream is not None
        while select.select([stream], [], [], 0)[0]:
            line = stream.readline()
            if not line:
                break
            self.stderr_lines.append(line)
        return "".join(self.stderr_lines)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        assert self.process.stderr is not None
        self.stderr_lines.append(self.process.stderr.read())
        self.process.stderr.close()
        return self.process.returncode


def add_user(data_dir: Path, config_path: Path, name: str, password: str) -> Path:
    home = data_dir / "home" / name
    subprocess.run(
        [sys.executable, "-m", "ferryd.cli", "user", "add", name, "--home", str(home),
         "--password-stdin", "--config", str(config_path)],
        input=password + "\n", text=True, check=True, capture_output=True,
        env={**os.environ, "FERRYD_HOME": str(data_dir)},
    )
    return home


@contextlib.contextmanager
def running_ferryd(
    tmp_path: Path, config_text: str, users: dict[str, str], *, want: tuple[str, ...] = ("ftp",)
) -> Iterator[RunningFerryd]:
    """Write the config, add the users, start `ferryd serve`, wait for its listeners."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    config_path = tmp_path / "ferryd.conf"
    config_path.write_text(
        config_text + f"\nuser_db={data_dir}/users.sqlite3\ndata_dir={data_dir}\n"
    )
    for name, password in users.items():
        add_user(data_dir, config_path, name, password)
    process = subprocess.Popen(
        [sys.executable, "-m", "ferryd.cli", "serve", "--config", str(config_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "FERRYD_HOME": str(data_dir)}, cwd=tmp_path,
    )
    server = RunningFerryd(process, config_path, data_dir)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    assert process.stderr is not None
    try:
        while not all(kind in server.ports for kind in want):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([process.stderr], [], [], remaining)[0]:
                raise RuntimeError("ferryd did not start:\n" + "".join(server.stderr_lines))
            line = process.stderr.readline()
            if not line:
                raise RuntimeError("ferryd exited:\n" + "".join(server.stderr_lines))
            server.stderr_lines.append(line)
            match = _LISTENING.search(line)
            if match:
                server.ports.setdefault(match.group(1), int(match.group(3)))
        yield server
    finally:
        status = server.stop()
    assert status == 0, "ferryd did not stop cleanly:\n" + "".join(server.stderr_lines)


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS that resumes the control connection's TLS session on data connections, as
    curl, lftp and FileZilla do (stock ftplib does not, so require_ssl_reuse refuses it)."""

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[socket.socket, int]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:  # type: ignore[attr-defined]
            session = self.sock.session  # type: ignore[union-attr]
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size


def insecure_client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
