"""What every benchmarked server shares: its process(es), its endpoints, and a clean stop."""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from bench.process_tree import tree_pids

if TYPE_CHECKING:
    from bench.environment import BenchEnvironment

LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
# Every FTP server's idle-session timeout: longer than the slowest measurement holds a session.
# 15 min was not: 10,000 idle sessions take 40-70 min to log in on a shared 2-core machine
# (an argon2id or matched SHA-512-crypt verification each), and the first ones timed out.
IDLE_TIMEOUT_SECONDS = 4 * 3600


class ServerStartError(RuntimeError):
    """A server could not be started; the text says which and shows what it printed."""


class Mode(enum.Enum):
    """A protocol as the client sees it."""

    FTP = "ftp"
    FTPS_EXPLICIT = "ftps-explicit"
    FTPS_IMPLICIT = "ftps-implicit"
    SFTP = "sftp"
    SCP = "scp"  # the legacy SCP protocol (`scp -O`)
    SCP_SFTP = "scp-sftp"  # modern scp, which speaks SFTP

    @property
    def uses_tls(self) -> bool:
        return self in (Mode.FTPS_EXPLICIT, Mode.FTPS_IMPLICIT)

    @property
    def is_ssh(self) -> bool:
        return self in (Mode.SFTP, Mode.SCP, Mode.SCP_SFTP)

    @property
    def is_ftp_family(self) -> bool:
        return self in (Mode.FTP, Mode.FTPS_EXPLICIT, Mode.FTPS_IMPLICIT)


class MemoryMetric(enum.Enum):
    """How memory per session is counted: RSS of one process, or PSS summed over a tree."""

    RSS = "rss"
    PSS = "pss"


def ssh_ports(port: int) -> dict[Mode, int]:
    """SFTP, legacy and modern scp all on the one SSH port."""
    return {Mode.SFTP: port, Mode.SCP: port, Mode.SCP_SFTP: port}


@dataclass
class RunningServer:
    """A started server: where to reach it, who may log in, which processes are its own."""

    name: str
    ports: dict[Mode, int]
    user: str
    password: str
    root_pids: list[int]
    memory_metric: MemoryMetric
    notes: list[str] = field(default_factory=list)
    host: str = LOOPBACK

    def supports(self, mode: Mode) -> bool:
        return mode in self.ports

    def port(self, mode: Mode) -> int:
        return self.ports[mode]


SERVES_EVERY_MODE: Mapping[Mode, str] = MappingProxyType({})
"""ServerKind.unsupported of a server with no gaps of its own."""


class ServerKind(Protocol):
    """One server implementation the harness knows how to configure and run."""

    name: str
    description: str
    unsupported: Mapping[Mode, str]
    """Why a mode it cannot serve is missing from its table row ("n/a" when not listed);
    which modes it serves is what its RunningServer's ports say."""

    def start(self, env: BenchEnvironment) -> contextlib.AbstractContextManager[RunningServer]:
        ...


# -- processes -----------------------------------------------------------------------------
class ManagedProcesses:
    """Every server process the harness starts, so each is stopped even on Ctrl-C or errors."""

    def __init__(self) -> None:
        self._processes: dict[int, subprocess.Popen[bytes]] = {}

    def spawn(
        self, argv: Sequence[str], *, log_path: Path, env: dict[str, str] | None = None,
        cwd: Path | None = None, stdin_is_log: bool = False,
    ) -> subprocess.Popen[bytes]:
        """Start argv in its own process group, stdout and stderr to log_path.

        stdin_is_log: vsftpd reports start-up errors on file descriptor 0, so its stdin is the
        log file opened read-write as well.
        """
        with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            stdin: int | None = subprocess.DEVNULL
            log_rw = None
            if stdin_is_log:
                log_rw = os.open(log_path, os.O_RDWR | os.O_APPEND)
                stdin = log_rw
            try:
                process = subprocess.Popen(
                    list(argv), stdin=stdin, stdout=log, stderr=log, env=env, cwd=cwd,
                    start_new_session=True,
                )
            finally:
                if log_rw is not None:
                    os.close(log_rw)
        self._processes[process.pid] = process
        return process

    def stop(self, process: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM) -> int | None:
        """Signal the process group, wait (bounded), then kill what is left of it."""
        self._processes.pop(process.pid, None)
        family = [pid for pid in tree_pids([process.pid]) if pid != process.pid]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            return process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_TIMEOUT)
            return None
        finally:
            # Forked session processes: the same group, or (setsid) at least our descendants.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            for pid in family:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for process in list(self._processes.values()):
            self.stop(process)


PROCESSES = ManagedProcesses()


@contextlib.contextmanager
def spawned(
    argv: Sequence[str], *, log_path: Path, env: dict[str, str] | None = None,
    cwd: Path | None = None, stdin_is_log: bool = False, stop_signal: int = signal.SIGTERM,
) -> Iterator[subprocess.Popen[bytes]]:
    process = PROCESSES.spawn(argv, log_path=log_path, env=env, cwd=cwd, stdin_is_log=stdin_is_log)
    try:
        yield process
    finally:
        PROCESSES.stop(process, sig=stop_signal)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, limit: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "(no log)"


def wait_for_banner(
    name: str, process: subprocess.Popen[bytes], port: int, log_path: Path, *, tls: bool = False,
    timeout: float = STARTUP_TIMEOUT,
) -> None:
    """Wait until the port answers (a 220 banner when plain), or fail naming the server."""
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(
                f"{name} exited with status {process.returncode} during start-up:\n"
                f"{log_tail(log_path)}"
            )
        try:
            with socket.create_connection((LOOPBACK, port), timeout=2) as sock:
                if tls:
                    return
                sock.settimeout(5)
                banner = sock.recv(512)
                if banner.startswith(b"220"):
                    sock.sendall(b"QUIT\r\n")
                    return
                if banner.startswith(b"SSH-"):
                    return
                last_error = f"unexpected banner {banner[:80]!r}"
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.1)
    raise ServerStartError(
        f"{name} did not answer on port {port} within {timeout:.0f} s ({last_error}):\n"
        f"{log_tail(log_path)}"
    )
