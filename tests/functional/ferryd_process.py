"""Start a real ferryd (the installed CLI, in a subprocess) on 127.0.0.1 with port 0."""

from __future__ import annotations

import contextlib
import ftplib
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

STARTUP_TIMEOUT = 30.0

# Plain FTP on 127.0.0.1, any free port, no login delay: the base every functional suite extends.
PLAIN_CONFIG = """\
listen=YES
listen_address=127.0.0.1
listen_port=0
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
chroot_local_user=YES
pasv_min_port=0
pasv_max_port=0
delay_failed_login=0
"""


@dataclass
class RunningFerryd:
    process: subprocess.Popen[str]
    config_path: Path
    data_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    host: str = "127.0.0.1"
    stderr_lines: list[str] = field(default_factory=list)
    _new_line: threading.Condition = field(default_factory=threading.Condition)
    _reader: threading.Thread | None = None
    killed: bool = False  # kill() was called: a non-zero exit is what the test wanted

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would end ferryd: no cleanup at all."""
        self.killed = True
        self.process.kill()
        self.process.wait(timeout=30)

    def start_reading(self) -> None:
        """Collect stderr lines on a thread (select on a buffered pipe can miss lines)."""

        def read() -> None:
            stream = self.process.stderr
            assert stream is not None
            for line in stream:
                with self._new_line:
                    self.stderr_lines.append(line)
                    self._new_line.notify_all()
            with self._new_line:
                self._new_line.notify_all()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    def wait_for_line(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str] | None:
        """The first stderr line matching pattern, waiting up to timeout seconds."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._new_line:
            while True:
                for line in self.stderr_lines[seen:]:
                    match = pattern.search(line)
                    if match:
                        return match
                seen = len(self.stderr_lines)
                remaining = deadline - time.monotonic()
                stream_ended = self._reader is not None and not self._reader.is_alive()
                if remaining <= 0 or stream_ended:
                    return None
                self._new_line.wait(min(remaining, 0.5))

    def wait_for_listeners(self, kinds: tuple[str, ...]) -> None:
        """Wait for each `listening KIND on HOST:PORT` line and note the port; RuntimeError
        with the server's output when one does not come."""
        for kind in kinds:
            pattern = re.compile(rf"listening {kind} on \[?([0-9a-f.:]+)\]?:(\d+)")
            match = self.wait_for_line(pattern, STARTUP_TIMEOUT)
            if match is None:
                raise RuntimeError("ferryd did not start:\n" + self.read_stderr())
            self.ports[kind] = int(match.group(2))

    @property
    def port(self) -> int:
        return self.ports.get("ftp") or self.ports["ftps-implicit"]

    @property
    def implicit_port(self) -> int:
        return self.ports["ftps-implicit"]

    def home(self, user: str) -> Path:
        return self.data_dir / "home" / user

    def read_stderr(self) -> str:
        """Everything the server printed so far."""
        with self._new_line:
            return "".join(self.stderr_lines)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout=10)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return self.process.returncode


def add_user(data_dir: Path, config_path: Path, name: str, password: str) -> Path:
    home = data_dir / "home" / name
    config = ["--config", str(config_path)] if config_path.exists() else []
    subprocess.run(
        [sys.executable, "-m", "ferryd.cli", "user", "add", name, "--home", str(home),
         "--password-stdin", *config],
        input=password + "\n", text=True, check=True, capture_output=True,
        env={**os.environ, "FERRYD_HOME": str(data_dir)},
    )
    return home


@contextlib.contextmanager
def running_ferryd(
    tmp_path: Path, config_text: str | None, users: dict[str, str], *,
    want: tuple[str, ...] = ("ftp",), overrides: tuple[str, ...] = (),
) -> Iterator[RunningFerryd]:
    """Write the config, add the users, start `ferryd serve`, wait for its listeners.

    config_text None serves the embedded default (with `overrides` as -oNAME=VALUE)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    config_path = tmp_path / "ferryd.conf"
    command = [sys.executable, "-m", "ferryd.cli", "serve"]
    if config_text is not None:
        config_path.write_text(
            config_text + f"\nuser_db={data_dir}/users.sqlite3\ndata_dir={data_dir}\n"
        )
        command += ["--config", str(config_path)]
        for name, password in users.items():
            add_user(data_dir, config_path, name, password)
    command += [f"-o{override}" for override in overrides]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "FERRYD_HOME": str(data_dir)}, cwd=tmp_path,
    )
    server = RunningFerryd(process, config_path, data_dir)
    server.start_reading()
    try:
        server.wait_for_listeners(want)
        yield server
    finally:
        status = server.stop()
    assert status == 0 or server.killed, (
        "ferryd did not stop cleanly:\n" + "".join(server.stderr_lines)
    )


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS that resumes the control connection's TLS session on data connections, as
    curl, lftp and FileZilla do (stock ftplib does not, so require_ssl_reuse refuses it)."""

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[socket.socket, int]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:  # type: ignore[attr-defined]
            session = self.sock.session  # type: ignore[union-attr]
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size


class ImplicitFTP_TLS(ReusingFTP_TLS):
    """Implicit FTPS (TLS from the first byte, port 990 style); stock ftplib only knows AUTH."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None = None) -> None:
        super().__init__(context=context or insecure_client_context())
        self.connect(host, port, timeout=30)

    def connect(
        self, host: str = "", port: int = 0, timeout: float = 30,
        source_address: tuple[str, int] | None = None,
    ) -> str:
        self.host, self.port, self.timeout = host, port, timeout
        self.source_address = source_address  # data connections come from there too
        raw = socket.create_connection((host, port), timeout, source_address)
        self.sock = self.context.wrap_socket(raw, server_hostname=host)
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def insecure_client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
