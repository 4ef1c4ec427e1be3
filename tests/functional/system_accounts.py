"""System users for functional tests: made with useradd (removed afterwards) with a PAM
service of their own, which needs root; the suites that use them skip elsewhere."""

from __future__ import annotations

import contextlib
import ftplib
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from tests.functional.ferryd_process import PLAIN_CONFIG, RunningFerryd
from tests.functional.ssh_clients import SFTP_CONFIG, make_key

TIMEOUT = 30.0

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None,
    reason="system-user tests create users and a PAM service: they need root and useradd",
)

# The service the test users log in with: the machine's password, account and session stacks.
PAM_SERVICE_TEXT = "@include common-auth\n@include common-account\n@include common-session\n"


@dataclass(frozen=True)
class SystemUser:
    name: str
    password: str
    home: Path
    uid: int
    gid: int


@dataclass(frozen=True)
class Accounts:
    alice: SystemUser
    bob: SystemUser
    nologin: SystemUser
    pam_service: str
    base: Path


def create_user(base: Path, name: str, shell: str = "/bin/bash") -> SystemUser:
    home = base / name
    subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--shell", shell,
                    "--user-group", name], check=True, capture_output=True, timeout=TIMEOUT)
    password = secrets.token_urlsafe(12)
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True,
                   capture_output=True, timeout=TIMEOUT)
    entry = pwd.getpwnam(name)
    return SystemUser(name, password, home, entry.pw_uid, entry.pw_gid)


@contextlib.contextmanager
def python_reachable_by_everyone() -> Iterator[None]:
    """Started as root with only system users, ferryd serves as nopriv_user, which must be able
    to read Python's and ferryd's code (modules load on first use). On a machine whose Python
    lives under a folder only root may enter (pyenv in /root), let others pass through it
    (o+x, no listing) while the tests run; restored afterwards."""
    import ferryd

    changed: list[tuple[Path, int]] = []
    for place in (Path(sys.prefix), Path(ferryd.__file__).resolve().parent):
        for folder in (place, *place.parents):
            mode = folder.stat().st_mode
            if not mode & stat.S_IXOTH and folder not in [path for path, _ in changed]:
                changed.append((folder, mode))
                folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
    try:
        yield
    finally:
        for folder, mode in changed:
            folder.chmod(stat.S_IMODE(mode))


@contextlib.contextmanager
def made_accounts() -> Iterator[Accounts]:
    """alice and bob with /bin/bash, and one with nologin; removed afterwards."""
    tag = secrets.token_hex(3)
    base = Path(tempfile.mkdtemp(prefix="ferryd-system-users-", dir="/tmp"))
    base.chmod(0o755)  # non-jailed users walk the real path to their home
    service = f"ferryd-test-{tag}"
    pam_file = Path("/etc/pam.d") / service
    pam_file.write_text(PAM_SERVICE_TEXT)
    made: list[str] = []
    try:
        with python_reachable_by_everyone():
            users = []
            for role, shell in (("a", "/bin/bash"), ("b", "/bin/bash"),
                                ("n", "/usr/sbin/nologin")):
                name = f"fdt{role}{tag}"
                users.append(create_user(base, name, shell))
                made.append(name)
            yield Accounts(users[0], users[1], users[2], service, base)
    finally:
        for name in made:
            subprocess.run(["userdel", "--remove", name], capture_output=True, timeout=TIMEOUT)
        pam_file.unlink(missing_ok=True)
        shutil.rmtree(base, ignore_errors=True)


def config(accounts: Accounts, *extra: str, base: str = PLAIN_CONFIG) -> str:
    return base + f"pam_service_name={accounts.pam_service}\nallow_writeable_chroot=YES\n" + (
        "".join(line + "\n" for line in extra)
    )


def login(server: RunningFerryd, user: SystemUser, password: str | None = None) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(server.host, server.port, timeout=TIMEOUT)
    try:
        client.login(user.name, user.password if password is None else password)
    except BaseException:
        client.close()
        raise
    return client


def authorize_key(user: SystemUser, folder: Path) -> Path:
    """A new key (made in `folder`) as the user's only ~/.ssh/authorized_keys, mode 0600."""
    key = make_key(folder, f"id_{user.name}")
    ssh_dir = user.home / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    keys = ssh_dir / "authorized_keys"
    keys.write_text(key.with_suffix(".pub").read_text())
    for path in (ssh_dir, keys):
        os.chown(path, user.uid, user.gid)
    keys.chmod(0o600)
    return key


def sftp_config(accounts: Accounts, folder: Path, *extra: str) -> str:
    """config() with SFTP on, and an ed25519 host key made in `folder`."""
    from ferryd.sftp.host_keys import generate_host_key

    host_key = generate_host_key(str(folder / "host_ed25519_key"), "ssh-ed25519").path
    return config(accounts, f"sftp_host_key_file={host_key}", *extra, base=SFTP_CONFIG)


async def key_login(server: RunningFerryd, user: SystemUser, key: Path) -> list[str]:
    """Log in over SFTP with `key` only; the names in the start folder."""
    async with (
        asyncssh.connect(server.host, server.ports["sftp"], username=user.name,
                         client_keys=[str(key)], known_hosts=None, agent_path=None,
                         config=None) as conn,
        conn.start_sftp_client() as sftp,
    ):
        return list(await sftp.listdir("."))
