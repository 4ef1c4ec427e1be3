"""ferryd itself: `ferryd serve --config FILE`, explicit and implicit FTPS and SFTP/SCP listeners
in one process."""

from __future__ import annotations

import contextlib
import re
import subprocess
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
    free_port,
    log_tail,
    spawned,
    ssh_ports,
    wait_for_banner,
)

_LISTENING = re.compile(r"listening (ftp|ftps-implicit|sftp) on \[?([0-9a-f.:]+)\]?:(\d+)")
_USER_ADD_TIMEOUT = 120


def ferryd_config(env: BenchEnvironment, data_dir: Path, implicit_port: int) -> str:
    return f"""\
# ferryd under benchmark: no artificial limits, TLS as the reference servers have it
listen=YES
listen_address=127.0.0.1
listen_port=0
implicit_ssl_port={implicit_port}
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
chroot_local_user=YES
pasv_min_port=0
pasv_max_port=0
max_clients=0
max_per_ip=0
delay_failed_login=0
idle_session_timeout={IDLE_TIMEOUT_SECONDS}
xferlog_enable=NO
ssl_enable=YES
rsa_cert_file={env.certificate}
force_local_logins_ssl=NO
force_local_data_ssl=NO
require_ssl_reuse=NO
ssl_tlsv1=NO
ssl_tlsv11=NO
ssl_tlsv12=YES
ssl_tlsv13=YES
user_db={data_dir}/users.sqlite3
data_dir={data_dir}
sftp_enable=YES
sftp_port=0
sftp_listen_address=127.0.0.1
sftp_host_key_file={env.ssh.host_key}
scp_enable=YES
{env.hashes.argon2_cost.config_lines()}"""


def _ferryd_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ferryd.cli", *args]


class FerrydServer:
    name = "ferryd"
    description = (
        "ferryd serve, one asyncio process; argon2id logins (the cost --login-cost sets), "
        "TLS 1.2-1.3, require_ssl_reuse=NO (session reuse is not required by any server here)"
    )
    unsupported = SERVES_EVERY_MODE

    @contextlib.contextmanager
    def start(self, env: BenchEnvironment) -> Iterator[RunningServer]:
        folder = env.server_dir(self.name)
        data_dir = folder / "data"
        data_dir.mkdir(exist_ok=True)
        config = folder / "ferryd.conf"
        config.write_text(ferryd_config(env, data_dir, free_port()))
        added = subprocess.run(
            _ferryd_command("user", "add", VIRTUAL_USER, "--home", str(env.home),
                            "--password-stdin", "--config", str(config)),
            input=env.password + "\n", capture_output=True, text=True, timeout=_USER_ADD_TIMEOUT,
        )
        if added.returncode != 0 and "exists" not in added.stderr:
            raise ServerStartError(f"ferryd user add failed: {added.stderr.strip()}")
        keyed = subprocess.run(
            _ferryd_command("user", "key-add", VIRTUAL_USER, "--file",
                            str(env.ssh.authorized_keys), "--config", str(config)),
            capture_output=True, text=True, timeout=_USER_ADD_TIMEOUT,
        )
        if keyed.returncode != 0 and "exists" not in keyed.stderr:
            raise ServerStartError(f"ferryd user key-add failed: {keyed.stderr.strip()}")
        log_path = folder / "ferryd.log"
        with spawned(_ferryd_command("serve", "--config", str(config)), log_path=log_path,
                     cwd=folder, stop_signal=15) as process:
            ports = _wait_for_listeners(process, log_path)
            wait_for_banner(self.name, process, ports[Mode.FTP], log_path)
            yield RunningServer(
                name=self.name, ports=ports, user=VIRTUAL_USER, password=env.password,
                root_pids=[process.pid], memory_metric=MemoryMetric.RSS,
            )


def _wait_for_listeners(process: subprocess.Popen[bytes], log_path: Path) -> dict[Mode, int]:
    """Parse `ferryd: listening ftp on 127.0.0.1:PORT` (and ftps-implicit) from its stderr."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        found = dict(
            (match.group(1), int(match.group(3)))
            for match in _LISTENING.finditer(log_path.read_text(errors="replace"))
        )
        if "ftp" in found and "ftps-implicit" in found and "sftp" in found:
            port = found["ftp"]
            return {Mode.FTP: port, Mode.FTPS_EXPLICIT: port,
                    Mode.FTPS_IMPLICIT: found["ftps-implicit"], **ssh_ports(found["sftp"])}
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise ServerStartError(f"ferryd did not report its listeners:\n{log_tail(log_path)}")
