"""ProFTPD 1.3.8 from Debian (proftpd-core + proftpd-mod-crypto for mod_tls), unpacked; implicit
FTPS from a second <VirtualHost> on its own port in the same daemon."""

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


def _tls_block(env: BenchEnvironment, folder: Path, *, implicit: bool) -> str:
    options = "UseImplicitSSL" if implicit else ""
    return f"""\
  TLSEngine on
  TLSRSACertificateFile {env.certificate}
  TLSRSACertificateKeyFile {env.certificate}
  TLSProtocol TLSv1.2 TLSv1.3
  TLSRequired off
  TLSVerifyClient off
  TLSRenegotiate none
  TLSLog {folder / "tls.log"}
  TLSOptions NoSessionReuseRequired {options}
"""


def proftpd_config(
    env: BenchEnvironment, folder: Path, explicit_port: int, implicit_port: int
) -> str:
    return f"""\
# ProFTPD under benchmark: no artificial limits, no login delays, TLS like ferryd's config
ServerType standalone
ServerName "proftpd bench"
DefaultServer on
DefaultAddress 127.0.0.1
SocketBindTight on
UseIPv6 off
Port {explicit_port}
User {env.system_user.name}
Group {env.system_user.name}
PidFile {folder / "proftpd.pid"}
ScoreboardFile {folder / "proftpd.scoreboard"}
SystemLog {folder / "system.log"}
ModulePath {env.debian.proftpd_modules}
LoadModule mod_tls.c
MaxInstances 100000
TCPBacklog 255
UseReverseDNS off
DelayEngine off
WtmpLog off
TransferLog none
<Global>
  AuthOrder mod_auth_unix.c
  RequireValidShell off
  DefaultRoot ~
  Umask 022
  AllowOverwrite on
  UseSendfile on
  MaxClients none
  MaxClientsPerHost none
  MaxClientsPerUser none
  MaxHostsPerUser none
  MaxConnectionsPerHost none
  MaxLoginAttempts 100
  TimeoutIdle {IDLE_TIMEOUT_SECONDS}
  TimeoutNoTransfer {IDLE_TIMEOUT_SECONDS}
  TimeoutLogin 600
  TimeoutStalled 300
</Global>
<IfModule mod_tls.c>
{_tls_block(env, folder, implicit=False)}
</IfModule>
<VirtualHost 127.0.0.1>
  Port {implicit_port}
{_tls_block(env, folder, implicit=True)}
</VirtualHost>
"""


class ProftpdServer:
    name = "proftpd"
    description = (
        "ProFTPD 1.3.8 (Debian) with mod_tls, a process per session; mod_auth_unix "
        "(SHA-512-crypt in /etc/shadow); TLSOptions NoSessionReuseRequired; DelayEngine off"
    )
    unsupported = SERVES_EVERY_MODE

    @contextlib.contextmanager
    def start(self, env: BenchEnvironment) -> Iterator[RunningServer]:
        folder = env.server_dir(self.name)
        explicit_port, implicit_port = free_port(), free_port()
        config = folder / "proftpd.conf"
        config.write_text(proftpd_config(env, folder, explicit_port, implicit_port))
        log_path = folder / "proftpd.log"
        argv = [str(env.debian.proftpd), "--nodaemon", "--config", str(config)]
        with spawned(argv, log_path=log_path, env=env.debian.env()) as process:
            wait_for_banner(self.name, process, explicit_port, log_path)
            wait_for_banner(self.name + " (implicit)", process, implicit_port, log_path, tls=True)
            yield RunningServer(
                name=self.name,
                ports={Mode.FTP: explicit_port, Mode.FTPS_EXPLICIT: explicit_port,
                       Mode.FTPS_IMPLICIT: implicit_port},
                user=env.system_user.name, password=env.password,
                root_pids=[process.pid], memory_metric=MemoryMetric.PSS,
            )
