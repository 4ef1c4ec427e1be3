"""The local system user that vsftpd, proftpd and pure-ftpd serve (they run as root here), and
that OpenSSH's sshd runs as (unprivileged) and serves.

Created by the harness when missing, marked by its GECOS field, reused idempotently, and
removed at the end of the run when this run created it (`--keep-user` keeps it).
"""

from __future__ import annotations

import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

SYSTEM_USER = "ferrybench"
_MARKER = "ferryd benchmark user"
# sshd runs the sftp-server subsystem and `scp -t` through the user's shell; the FTP servers
# here do not check it (PAM builds of vsftpd, proftpd's RequireValidShell off, puredb users).
_SHELL = "/bin/sh"
_COMMAND_TIMEOUT = 30


class SystemUserError(RuntimeError):
    pass


@dataclass(frozen=True)
class SystemUser:
    name: str
    uid: int
    gid: int
    created_by_us: bool


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=_COMMAND_TIMEOUT)
    if result.returncode != 0:
        raise SystemUserError(f"{' '.join(argv[:2])} failed: {result.stderr.strip()}")


def ensure_system_user(home: Path, crypt_hash: str) -> SystemUser:
    """Create (or reuse) the bench user with `home` and the given crypt(3) password hash."""
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        entry = None
    if entry is not None and entry.pw_gecos != _MARKER:
        raise SystemUserError(
            f"a user named {SYSTEM_USER} exists and was not made by this harness; "
            "remove or rename it"
        )
    created = entry is None
    if created:
        _run(["useradd", "--system", "--no-create-home", "--home-dir", str(home),
              "--shell", _SHELL, "--comment", _MARKER, "--user-group",
              SYSTEM_USER])
    _run(["usermod", "--home", str(home), "--shell", _SHELL, "--password", crypt_hash,
          SYSTEM_USER])
    entry = pwd.getpwnam(SYSTEM_USER)
    return SystemUser(SYSTEM_USER, entry.pw_uid, entry.pw_gid, created_by_us=created)


def remove_system_user(user: SystemUser) -> None:
    try:
        entry = pwd.getpwnam(user.name)
    except KeyError:
        return
    if entry.pw_gecos == _MARKER:
        _run(["userdel", user.name])
