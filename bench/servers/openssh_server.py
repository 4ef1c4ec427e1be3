"""OpenSSH 9.2's sshd and sftp-server from Debian, unpacked (not installed: the package would
start a system service), run unprivileged as the bench user on a loopback port, with its own
host key, authorized_keys and config file in the work folder."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.environment import BenchEnvironment
from bench.servers.base import (
    SERVES_EVERY_MODE,
    MemoryMetric,
    RunningServer,
    free_port,
    spawned,
    ssh_ports,
    wait_for_banner,
)

_SUBREAPER = Path(__file__).with_name("subreaper.py")


def sshd_config(env: BenchEnvironment, folder: Path, port: int) -> str:
    return f"""\
# OpenSSH's sshd under benchmark: unprivileged, no artificial limits
Port {port}
ListenAddress 127.0.0.1
HostKey {env.ssh.host_key}
PidFile {folder / "sshd.pid"}
AuthorizedKeysFile {env.ssh.authorized_keys}
# the work folder is on /dev/shm (mode 1777), which StrictModes and ChrootDirectory refuse
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PermitRootLogin no
AllowUsers {env.system_user.name}
# the default 10:30:100 drops unauthenticated connections past 10: a burst would fail
MaxStartups 100000
MaxSessions 100
LoginGraceTime 600
ClientAliveInterval 0
Compression no
PrintMotd no
PrintLastLog no
LogLevel ERROR
Subsystem sftp {env.debian.sftp_server}
"""


class OpensshServer:
    name = "openssh"
    description = (
        "OpenSSH 9.2 sshd + sftp-server (Debian), unprivileged as the bench user, a process "
        "per connection (plus sftp-server or scp per session); ed25519 keys; MaxStartups raised"
    )
    unsupported = SERVES_EVERY_MODE

    @contextlib.contextmanager
    def start(self, env: BenchEnvironment) -> Iterator[RunningServer]:
        folder = env.server_dir(self.name)
        port = free_port()
        config = folder / "sshd_config"
        config.write_text(sshd_config(env, folder, port))
        log_path = folder / "sshd.log"
        user = env.system_user
        with contextlib.suppress(PermissionError):
            folder.chmod(0o777)  # its pid file, written as the bench user
        # under a subreaper: sshd's session processes are orphaned before they exit
        argv = [sys.executable, str(_SUBREAPER), str(user.uid), str(user.gid),
                str(env.debian.sshd), "-D", "-e", "-f", str(config)]
        with spawned(argv, log_path=log_path, env=env.debian.env()) as process:
            wait_for_banner(self.name, process, port, log_path)
            yield RunningServer(
                name=self.name, ports=ssh_ports(port), user=user.name,
                password=env.password, root_pids=[process.pid], memory_metric=MemoryMetric.PSS,
            )
