"""System accounts (local_enable=YES): looked up in the passwd database, checked by PAM.

What vsftpd decides for a local user is decided here: whether the name may try at all
(userlist, root), whether the shell is acceptable (check_shell), the password (PAM, with its
account checks: locked and expired accounts fail there), and where the session lives (the
chroot options, local_root, passwd_chroot_enable's `/./` marker).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ferryd.accounts.strict_modes import key_file_refusal
from ferryd.users.model import SystemIdentity, User

log = logging.getLogger("ferryd.accounts")

SHELLS_FILE = "/etc/shells"


@dataclass(frozen=True)
class SystemAccountRules:
    pam_service_name: str
    check_shell: bool
    chroot_local_user: bool
    chroot_list: frozenset[str] | None  # chroot_list_enable=YES: the names in chroot_list_file
    passwd_chroot_enable: bool
    local_root: str | None
    user_sub_token: str | None
    allow_writeable_chroot: bool


@dataclass(frozen=True)
class Jail:
    """Where a system user's session lives: `root` is what "/" is; `start` the first folder."""

    root: str
    start: str
    jailed: bool


class JailError(Exception):
    """The user's root cannot be used (missing, not a folder, writable without permission)."""


def read_name_list(path: str) -> frozenset[str]:
    """vsftpd's user lists (userlist_file, chroot_list_file): one name per line."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        return frozenset(
            line.strip() for line in handle if line.strip() and not line.lstrip().startswith("#")
        )


def shell_allowed(shell: str, shells_file: str = SHELLS_FILE) -> bool:
    try:
        return shell in read_name_list(shells_file)
    except OSError:
        return False  # no /etc/shells: vsftpd refuses too


def home_for(user: User, rules: SystemAccountRules) -> str:
    """local_root (with user_sub_token replaced by the name) when set, else the user's home."""
    if not rules.local_root:
        return user.home
    if rules.user_sub_token:
        return rules.local_root.replace(rules.user_sub_token, user.name)
    return rules.local_root


def jail_for(user: User, rules: SystemAccountRules) -> Jail:
    """vsftpd's rules: chroot_local_user, inverted for the names in chroot_list (when
    enabled); local_root (with user_sub_token) instead of the home; `/./` in the home splits
    jail and start folder when passwd_chroot_enable is on."""
    home = home_for(user, rules)
    jailed = rules.chroot_local_user
    if rules.chroot_list is not None and user.name in rules.chroot_list:
        jailed = not jailed
    if jailed and rules.passwd_chroot_enable and "/./" in home:
        root, rest = home.split("/./", 1)
        return Jail(root=root or "/", start="/" + rest.strip("/"), jailed=True)
    home = home.replace("/./", "/")
    if jailed:
        return Jail(root=home, start="/", jailed=True)
    return Jail(root="/", start=os.path.normpath(home), jailed=False)


def check_jail(jail: Jail, identity: SystemIdentity, *, allow_writeable: bool) -> None:
    """Raise JailError unless the jail's root is a folder, and (without allow_writeable_chroot)
    one the user cannot write to, as vsftpd insists."""
    try:
        info = os.stat(jail.root)
    except OSError as exc:
        raise JailError(f"{jail.root}: {exc.strerror}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise JailError(f"{jail.root}: not a folder")
    if not jail.jailed or allow_writeable:
        return
    writable = (
        (info.st_uid == identity.uid and info.st_mode & stat.S_IWUSR)
        or (info.st_gid in (identity.gid, *identity.groups) and info.st_mode & stat.S_IWGRP)
        or info.st_mode & stat.S_IWOTH
    )
    if writable:
        raise JailError(
            f"{jail.root}: refusing a jail whose root the user can write to "
            "(set allow_writeable_chroot=YES, or make the root read-only for the user)"
        )


PasswordCheck = Callable[[str, str, str], bool]
"""(service, name, password) -> whether PAM accepts them; blocking."""


def pam_password_check(service: str, name: str, password: str) -> bool:
    import pam  # type: ignore[import-untyped]  # python-pam: ctypes over libpam

    checker = pam.pam()
    ok = bool(checker.authenticate(name, password, service=service))
    if not ok:
        log.info("PAM (%s) refused %r: %s", service, name, checker.reason)
    return ok


class SystemAccounts:
    """Logins of system users: the passwd entry, the shell, then PAM (in one thread: PAM
    modules are not all thread-safe)."""

    def __init__(self, rules: SystemAccountRules,
                 password_check: PasswordCheck = pam_password_check) -> None:
        self._rules = rules
        self._password_check = password_check
        self._pam_thread = ThreadPoolExecutor(1, thread_name_prefix="ferryd-pam")

    @property
    def rules(self) -> SystemAccountRules:
        return self._rules

    def close(self) -> None:
        self._pam_thread.shutdown(wait=False, cancel_futures=True)

    def _usable_user(self, name: str, *, with_keys: bool) -> User | None:
        """The passwd entry, its groups and (for key logins) its authorized keys, when the
        account may log in at all: not root, and a listed shell under check_shell. Blocking
        (NSS, /etc/shells, the keys file): called in a worker thread, in one hop."""
        try:
            account = pwd.getpwnam(name)
        except (KeyError, ValueError):
            return None
        if account.pw_uid == 0:
            log.warning("refused a login as %r: system logins as root are never allowed", name)
            return None
        if self._rules.check_shell and not shell_allowed(account.pw_shell):
            log.info("refused %r: shell %s is not in %s (check_shell)", name,
                     account.pw_shell, SHELLS_FILE)
            return None
        return _user(account, authorized_keys(account) if with_keys else ())

    async def get(self, name: str) -> User | None:
        """The system user called `name` (no password check), with the keys of their
        ~/.ssh/authorized_keys for SSH key logins."""
        return await asyncio.to_thread(self._usable_user, name, with_keys=True)

    async def authenticate(self, name: str, password: str) -> User | None:
        user = await asyncio.to_thread(self._usable_user, name, with_keys=False)
        if user is None:
            return None
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(
            self._pam_thread, self._password_check, self._rules.pam_service_name, name, password
        )
        return user if ok else None


def _user(account: pwd.struct_passwd, keys: tuple[str, ...]) -> User:
    groups = tuple(
        gid for gid in os.getgrouplist(account.pw_name, account.pw_gid) if gid != account.pw_gid
    )
    return User(
        name=account.pw_name, home=account.pw_dir, enabled=True, public_keys=keys, created=0.0,
        system=SystemIdentity(uid=account.pw_uid, gid=account.pw_gid, groups=groups),
    )


def authorized_keys(account: pwd.struct_passwd) -> tuple[str, ...]:
    """~/.ssh/authorized_keys, trusted only as OpenSSH's StrictModes would (strict_modes.py):
    the file, ~/.ssh and ~ owned by the user (or root) and writable by nobody else."""
    path = os.path.join(account.pw_dir, ".ssh", "authorized_keys")
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            refusal = key_file_refusal(path, os.fstat(handle.fileno()), account.pw_uid,
                                       account.pw_dir)
            if refusal is not None:
                log.warning("refused the keys of %s in %s: %s (as OpenSSH's StrictModes)",
                            account.pw_name, path, refusal)
                return ()
            lines = handle.read(1 << 20).splitlines()
    except OSError:
        return ()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))
