"""pyftpdlib (PyPI) with pyOpenSSL, started as a subprocess running pyftpdlib_main.py."""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench.environment import VIRTUAL_USER, BenchEnvironment
from bench.servers.base import (
    IDLE_TIMEOUT_SECONDS,
    SERVES_EVERY_MODE,
    STARTUP_TIMEOUT,
    MemoryMetric,
    Mode,
    RunningServer,
    ServerStartError,
    log_tail,
    spawned,
    wait_for_banner,
)

_LISTENING = re.compile(r"listening explicit (\d+) implicit (\d+)")
_MAIN = Path(__file__).with_name("pyftpdlib_main.py")


class PyftpdlibServer:
    name = "pyftpdlib"
    description = (
        "pyftpdlib's async FTPServer (one process) with TLS_FTPHandler (pyOpenSSL); the same "
        "argon2id hash as ferryd, verified in its I/O loop; it has no TLS session-reuse check"
    )
    unsupported = SERVES_EVERY_MODE

    @contextlib.contextmanager
    def start(self, env: BenchEnvironment) -> Iterator[RunningServer]:
        folder = env.server_dir(self.name)
        log_path = folder / "pyftpdlib.log"
        argv = [sys.executable, str(_MAIN), str(env.home), str(env.certificate), VIRTUAL_USER,
                env.hashes.argon2id, str(IDLE_TIMEOUT_SECONDS)]
        with spawned(argv, log_path=log_path, cwd=folder, stop_signal=2) as process:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            match = None
            while match is None and time.monotonic() < deadline and process.poll() is None:
                match = _LISTENING.search(log_path.read_text(errors="replace"))
                time.sleep(0.05)
            if match is None:
                raise ServerStartError(f"pyftpdlib did not start:\n{log_tail(log_path)}")
            explicit, implicit = int(match.group(1)), int(match.group(2))
            wait_for_banner(self.name, process, explicit, log_path)
            yield RunningServer(
                name=self.name,
                ports={Mode.FTP: explicit, Mode.FTPS_EXPLICIT: explicit,
                       Mode.FTPS_IMPLICIT: implicit},
                user=VIRTUAL_USER, password=env.password, root_pids=[process.pid],
                memory_metric=MemoryMetric.RSS,
            )
