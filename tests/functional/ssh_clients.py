"""OpenSSH sftp/scp, curl and asyncssh against a real ferryd: no tty, no agent, no user config.

Passwords reach OpenSSH through SSH_ASKPASS (SSH_ASKPASS_REQUIRE=force, new session: no
terminal); keys are made with ssh-keygen in the test's folder. Every subprocess has a timeout.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from ferryd.sftp.host_keys import generate_host_key
from tests.functional.ferryd_process import PLAIN_CONFIG, RunningFerryd, running_ferryd

TIMEOUT = 30.0
USER, PASSWORD = "alice", "wonderland"

SFTP_CONFIG = PLAIN_CONFIG + """\
sftp_enable=YES
sftp_port=0
sftp_listen_address=127.0.0.1
xferlog_enable=YES
dual_log_enable=YES
"""


@contextlib.contextmanager
def sftp_server(
    folder: Path, extra: str = "", users: dict[str, str] | None = None,
) -> Iterator[RunningFerryd]:
    """ferryd with FTP and SFTP on 127.0.0.1 port 0, both transfer logs in its data folder,
    and an ed25519 host key made here (RSA generation on every start would cost seconds)."""
    host_key = generate_host_key(str(folder / "host_ed25519_key"), "ssh-ed25519")
    data = folder / "data"
    config = (
        SFTP_CONFIG + f"sftp_host_key_file={host_key.path}\n"
        f"vsftpd_log_file={data}/vsftpd.log\nxferlog_file={data}/xferlog\n" + extra
    )
    with running_ferryd(folder, config, users or {USER: PASSWORD}, want=("ftp", "sftp")) as server:
        for name in users or {USER: PASSWORD}:
            server.home(name).mkdir(parents=True, exist_ok=True)
        yield server


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_key(folder: Path, name: str = "id_ed25519") -> Path:
    """A fresh passphrase-less ed25519 key pair; returns the private key path."""
    path = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)],
        check=True, capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
    )
    return path


def add_key(server: RunningFerryd, user: str, public_key: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "ferryd.cli", "user", "key-add", user, str(public_key),
         "--config", str(server.config_path)],
        check=True, capture_output=True, text=True, timeout=TIMEOUT,
        env={**os.environ, "FERRYD_HOME": str(server.data_dir)},
    )


@dataclass
class OpenSsh:
    """One login for OpenSSH's clients: a password (askpass) or a key, never both."""

    server: RunningFerryd
    work: Path  # the clients' current folder, where local files go
    user: str = USER
    password: str | None = PASSWORD
    key: Path | None = None
    offered_first: tuple[Path, ...] = ()
    """Keys offered before `key`, as an agent or ~/.ssh/id_* would offer them."""

    @property
    def port(self) -> int:
        return self.server.ports["sftp"]

    def remote(self, path: str) -> str:
        return f"{self.user}@{self.server.host}:{path}"

    def _options(self) -> list[str]:
        common = [
            "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=10", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
        ]
        if self.key is not None:
            keys = [option for path in (*self.offered_first, self.key)
                    for option in ("-i", str(path))]
            return [*common, "-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey",
                    *keys]
        return [*common, "-o", "BatchMode=no", "-o", "PubkeyAuthentication=no",
                "-o", "PreferredAuthentications=keyboard-interactive,password",
                "-o", "NumberOfPasswordPrompts=1"]

    def _environment(self) -> dict[str, str]:
        environment = {key: value for key, value in os.environ.items()
                       if key not in ("SSH_AUTH_SOCK", "DISPLAY")}
        if self.password is not None:
            askpass = self.work / f".askpass-{self.user}"
            askpass.write_text(f"#!/bin/sh\nprintf '%s\\n' '{self.password}'\n")
            askpass.chmod(0o700)
            environment.update(SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force")
        return environment

    def run(self, argv: list[str], *, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
        """No terminal (a new session, stdin from /dev/null): askpass is the only way in."""
        return subprocess.run(
            argv, cwd=self.work, env=self._environment(), stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout, start_new_session=True,
        )

    def sftp(self, *commands: str) -> subprocess.CompletedProcess[str]:
        """`sftp -b`: a command starting with "-" may fail without ending the batch."""
        batch = self.work / ".batch"
        batch.write_text("".join(f"{command}\n" for command in commands))
        return self.run(["sftp", *self._options(), "-P", str(self.port), "-b", str(batch),
                         f"{self.user}@{self.server.host}"])

    def scp(self, *arguments: str, legacy: bool = False) -> subprocess.CompletedProcess[str]:
        """Modern scp (SFTP underneath) or, legacy=True, `scp -O` (the SCP protocol)."""
        mode = ["-O"] if legacy else []
        return self.run(["scp", *mode, *self._options(), "-P", str(self.port), *arguments])

    def ssh(self, command: str) -> subprocess.CompletedProcess[str]:
        return self.run(["ssh", *self._options(), "-p", str(self.port),
                         f"{self.user}@{self.server.host}", command])


def curl(server: RunningFerryd, url_path: str, *arguments: str, scheme: str = "sftp",
         user: str = USER, password: str = PASSWORD) -> subprocess.CompletedProcess[bytes]:
    """curl sftp:// or scp://; `~` in the path is the user's folder (their root here)."""
    return subprocess.run(
        ["curl", "--silent", "--show-error", "--insecure", "--max-time", str(int(TIMEOUT)),
         "--user", f"{user}:{password}", *arguments,
         f"{scheme}://{server.host}:{server.ports['sftp']}/~/{url_path}"],
        capture_output=True, timeout=TIMEOUT + 5, stdin=subprocess.DEVNULL,
    )


def log_text(server: RunningFerryd, name: str) -> str:
    path = server.data_dir / name
    return path.read_text(errors="replace") if path.exists() else ""


@contextlib.asynccontextmanager
async def sftp_session(server: RunningFerryd, **options: Any) -> AsyncIterator[
        asyncssh.SFTPClient]:
    """asyncssh's SFTP client logged in as USER (by password unless `options` say otherwise),
    with no known_hosts, agent, keys or config of the machine's."""
    settings: dict[str, Any] = {
        "username": USER, "password": PASSWORD, "known_hosts": None, "client_keys": None,
        "agent_path": None, "config": None, **options,
    }
    async with asyncssh.connect(server.host, server.ports["sftp"], **settings) as conn, \
            conn.start_sftp_client() as sftp:
        yield sftp
