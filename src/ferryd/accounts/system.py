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

from ferryd.accounts.host_names import HostNames
from ferryd.accounts.login_session import LoginSession, LoginSessionRequest
from ferryd.accounts.pam_binding import PamError, PamTransaction
from ferryd.accounts.strict_modes import key_file_refusal
from ferryd.users.model import LoginOrigin, SystemIdentity, User

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
    reverse_lookup_enable: bool = False


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


@dataclass(frozen=True)
class PamLogin:
    """One PAM conversation's items: the service, the user, PAM_RHOST and PAM_TTY."""

    service: str
    user: str
    rhost: str
    tty: str

KeysReader = Callable[[pwd.struct_passwd], tuple[str, ...]]
"""The account's authorized keys (authorized_keys, or the same read by a root helper);
blocking."""


def pam_tty(protocol: str) -> str:
    """PAM_TTY as vsftpd ("ftp") and OpenSSH without a terminal ("ssh") set it."""
    return "ssh" if protocol in ("sftp", "scp") else "ftp"


PasswordCheck = Callable[[PamLogin, str | None], bool]
"""(the login, its password) -> whether PAM accepts them; None: a key login, whose account
alone is checked. Blocking."""


def pam_password_check(login: PamLogin, password: str | None) -> bool:
    """pam_authenticate, then pam_acct_mgmt (locked and expired accounts fail there); for a
    key login (no password) pam_acct_mgmt alone, as OpenSSH with UsePAM does."""
    try:
        transaction = PamTransaction(login.service, login.user, rhost=login.rhost,
                                     tty=login.tty, password=password)
    except PamError as exc:
        log.error("PAM (%s) cannot check %r: %s", login.service, login.user, exc)
        return False
    try:
        if password is None:
            transaction.check_account()
        else:
            transaction.authenticate()
    except PamError as exc:
        log.info("PAM (%s) refused %r from %s: %s", login.service, login.user, login.rhost,
                 exc)
        return False
    finally:
        transaction.end()
    return True


class SystemAccounts:
    """Logins of system users: the passwd entry, the shell, then PAM (in one thread: PAM
    modules are not all thread-safe)."""

    def __init__(self, rules: SystemAccountRules,
                 password_check: PasswordCheck = pam_password_check,
                 keys_reader: KeysReader | None = None) -> None:
        self._rules = rules
        self._password_check = password_check
        self._keys_reader = keys_reader or authorized_keys
        self._pam_thread = ThreadPoolExecutor(1, thread_name_prefix="ferryd-pam")
        self._host_names = HostNames(reverse_lookup=rules.reverse_lookup_enable)

    @property
    def rules(self) -> SystemAccountRules:
        return self._rules

    def close(self) -> None:
        self._pam_thread.shutdown(wait=False, cancel_futures=True)
        self._host_names.close()

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
        return _user(account, self._keys_reader(account) if with_keys else ())

    async def get(self, name: str) -> User | None:
        """The system user called `name` (no password check), with the keys of their
        ~/.ssh/authorized_keys for SSH key logins; None when PAM's account checks refuse a
        user who has keys (locked, expired: a key must not outlive the account)."""
        user = await asyncio.to_thread(self._usable_user, name, with_keys=True)
        if user is None or not user.public_keys:
            return user
        login = PamLogin(service=self._rules.pam_service_name, user=name, rhost="",
                         tty=pam_tty("sftp"))
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(self._pam_thread, self._password_check, login, None)
        return user if ok else None

    async def authenticate(self, name: str, password: str,
                           origin: LoginOrigin | None = None) -> User | None:
        user = await asyncio.to_thread(self._usable_user, name, with_keys=False)
        if user is None:
            return None
        login = await self._pam_login(name, origin or LoginOrigin("", "ftp"))
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(self._pam_thread, self._password_check, login, password)
        return user if ok else None

    async def _pam_login(self, name: str, origin: LoginOrigin) -> PamLogin:
        return PamLogin(service=self._rules.pam_service_name, user=name,
                        rhost=await self._host_names.remote_host(origin.address),
                        tty=pam_tty(origin.protocol))

    async def open_login_session(self, user: User, origin: LoginOrigin) -> LoginSession:
        """session_support=YES: the user's PAM session and utmp/wtmp records, open until the
        returned session is closed. LoginSessionError when PAM refuses (for a key login,
        also its account checks: locked, expired)."""
        login = await self._pam_login(user.name, origin)
        return await LoginSession.open(LoginSessionRequest(
            service=login.service, user=login.user, rhost=login.rhost, tty=login.tty,
        ))


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
