"""Pure-FTPd 1.0.50 from Debian, unpacked; a puredb virtual user mapped to the bench system user.
Debian's build has no implicit TLS (it needs --with-implicittls at build time)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from bench.environment import VIRTUAL_USER, BenchEnvironment
from bench.servers.base import (
    IDLE_TIMEOUT_SECONDS,
    MemoryMetric,
    Mode,
    RunningServer,
    ServerStartError,
    free_port,
    spawned,
    wait_for_banner,
)

_MKDB_TIMEOUT = 30
MAX_CLIENTS = 50000


class PureFtpdServer:
    name = "pure-ftpd"
    description = (
        "Pure-FTPd 1.0.50 (Debian), a process per session (privsep); puredb virtual user "
        "(SHA-512-crypt via crypt(3)); it has no TLS session-reuse check"
    )

    unsupported: Mapping[Mode, str] = MappingProxyType(
        {Mode.FTPS_IMPLICIT: "n/a (Debian build has no implicit TLS)"}
    )

    @contextlib.contextmanager
    def start(self, env: BenchEnvironment) -> Iterator[RunningServer]:
        folder = env.server_dir(self.name)
        passwd, pdb = folder / "pureftpd.passwd", folder / "pureftpd.pdb"
        user = env.system_user
        # user:hash:uid:gid:gecos:home/./ (the /./ chroots into home), then unused fields
        passwd.write_text(
            f"{VIRTUAL_USER}:{env.hashes.sha512crypt}:{user.uid}:{user.gid}::{env.home}/./"
            + ":" * 12 + "\n"
        )
        made = subprocess.run(
            [str(env.debian.pure_pw), "mkdb", str(pdb), "-f", str(passwd)],
            capture_output=True, text=True, env=env.debian.env(), timeout=_MKDB_TIMEOUT,
        )
        if made.returncode != 0:
            raise ServerStartError(f"pure-pw mkdb failed: {made.stderr.strip()}")
        port = free_port()
        argv = [
            str(env.debian.pure_ftpd),
            "--bind", f"127.0.0.1,{port}",
            "--login", f"puredb:{pdb}",
            "--noanonymous", "--chrooteveryone", "--dontresolve",
            "--maxclientsnumber", str(MAX_CLIENTS), "--maxclientsperip", str(MAX_CLIENTS),
            "--maxidletime", str(IDLE_TIMEOUT_SECONDS // 60),  # minutes
            "--minuid", "100",
            "--umask", "133:022",
            "--tls", "1",  # TLS accepted, not required (as the other servers here)
            "--certfile", str(env.certificate),
            "--pidfile", str(folder / "pure-ftpd.pid"),
        ]
        log_path = folder / "pure-ftpd.log"
        with spawned(argv, log_path=log_path, env=env.debian.env()) as process:
            wait_for_banner(self.name, process, port, log_path)
            yield RunningServer(
                name=self.name, ports={Mode.FTP: port, Mode.FTPS_EXPLICIT: port},
                user=VIRTUAL_USER, password=env.password, root_pids=[process.pid],
                memory_metric=MemoryMetric.PSS,
            )
