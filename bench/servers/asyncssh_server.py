"""A bare asyncssh SFTP/SCP server (asyncssh_main.py): what ferryd's SSH front end adds to
asyncssh shows as the difference between the two."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncssh

from bench.environment import VIRTUAL_USER, BenchEnvironment
from bench.servers.base import (
    SERVES_EVERY_MODE,
    STARTUP_TIMEOUT,
    MemoryMetric,
    RunningServer,
    ServerStartError,
    log_tail,
    spawned,
    ssh_ports,
    wait_for_banner,
)

_MAIN = Path(__file__).with_name("asyncssh_main.py")


class AsyncsshServer:
    name = "asyncssh"
    description = (
        f"asyncssh {asyncssh.__version__}: its stock SFTPServer with chroot= and allow_scp=True, "
        "one asyncio process; ed25519 keys (authorized_client_keys)"
    )
    unsupported = SERVES_EVERY_MODE

    @contextlib.contextmanager
    def start(self, env: BenchEnvironment) -> Iterator[RunningServer]:
        folder = env.server_dir(self.name)
        port_file = folder / "port"
        port_file.unlink(missing_ok=True)
        log_path = folder / "asyncssh.log"
        argv = [sys.executable, str(_MAIN), str(port_file),
                str(env.home), str(env.ssh.host_key), str(env.ssh.authorized_keys)]
        with spawned(argv, log_path=log_path, cwd=folder) as process:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not port_file.exists() or not port_file.read_text().strip():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise ServerStartError(f"asyncssh did not start:\n{log_tail(log_path)}")
                time.sleep(0.05)
            port = int(port_file.read_text())
            wait_for_banner(self.name, process, port, log_path)
            yield RunningServer(
                name=self.name, ports=ssh_ports(port), user=VIRTUAL_USER,
                password=env.password, root_pids=[process.pid], memory_metric=MemoryMetric.RSS,
            )
