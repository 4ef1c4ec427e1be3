"""vsftpd 3.0.3 from Debian, unpacked: two instances (explicit FTPS, implicit FTPS), as vsftpd
needs one process per listening mode."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from bench.environment import BenchEnvironment
from bench.servers.base import (
    IDLE_TIMEOUT_SECONDS,
    SERVES_EVERY_MODE,
    MemoryMetric,
    Mode,
    RunningServer,
    free_port,
    spawned,
    wait_for_banner,
)


def vsftpd_config(env: BenchEnvironment, folder: Path, port: int, *, implicit: bool) -> str:
    empty = folder / "empty"
    empty.mkdir(exist_ok=True)
    return f"""\
# vsftpd under benchmark: no artificial limits (0 = unlimited), TLS like ferryd's config
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port={port}
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
chroot_local_user=YES
secure_chroot_dir={empty}
pam_service_name=ferryd-bench
seccomp_sandbox=NO
max_clients=0
max_per_ip=0
delay_failed_login=0
idle_session_timeout={IDLE_TIMEOUT_SECONDS}
data_connection_timeout=300
xferlog_enable=NO
use_sendfile=YES
ssl_enable=YES
implicit_ssl={"YES" if implicit else "NO"}
rsa_cert_file={env.certificate}
force_local_logins_ssl=NO
force_local_data_ssl=NO
require_ssl_reuse=NO
ssl_sslv2=NO
ssl_sslv3=NO
ssl_tlsv1=NO
ssl_ciphers=HIGH
"""


class VsftpdServer:
    name = "vsftpd"
    description = (
        "vsftpd 3.0.3 (Debian), standalone, a process pair per session; PAM (pam_unix, "
        "SHA-512-crypt in /etc/shadow); require_ssl_reuse=NO; implicit FTPS as a second instance"
    )
    unsupported = SERVES_EVERY_MODE

    @contextlib.contextmanager
    def start(self, env: BenchEnvironment) -> Iterator[RunningServer]:
        folder = env.server_dir(self.name)
        binary = str(env.debian.vsftpd)
        explicit_port, implicit_port = free_port(), free_port()
        explicit_conf, implicit_conf = folder / "explicit.conf", folder / "implicit.conf"
        explicit_conf.write_text(vsftpd_config(env, folder, explicit_port, implicit=False))
        implicit_conf.write_text(vsftpd_config(env, folder, implicit_port, implicit=True))
        explicit_log, implicit_log = folder / "explicit.log", folder / "implicit.log"
        with (
            spawned([binary, str(explicit_conf)], log_path=explicit_log, env=env.debian.env(),
                    stdin_is_log=True) as explicit,
            spawned([binary, str(implicit_conf)], log_path=implicit_log, env=env.debian.env(),
                    stdin_is_log=True) as implicit,
        ):
            wait_for_banner(self.name, explicit, explicit_port, explicit_log)
            wait_for_banner(self.name + " (implicit)", implicit, implicit_port, implicit_log,
                            tls=True)
            yield RunningServer(
                name=self.name,
                ports={Mode.FTP: explicit_port, Mode.FTPS_EXPLICIT: explicit_port,
                       Mode.FTPS_IMPLICIT: implicit_port},
                user=env.system_user.name, password=env.password,
                root_pids=[explicit.pid, implicit.pid], memory_metric=MemoryMetric.PSS,
            )
