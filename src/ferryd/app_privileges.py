"""Root, and how little of ferryd keeps it.

Started as root, ferryd forks its privileged helpers before any thread exists:
- the file-process spawner (storage/user_process.py): forks the file process of each system
  user's (and anonymous or guest) session, gives anonymous uploads to chown_username, and reads
  system users' ~/.ssh/authorized_keys;
- the PAM helper (local_enable): pam_authenticate and pam_acct_mgmt, one check at a time, in
  a process of its own, so that PAM's delay after a wrong password never holds up a spawn.
Once the listeners are bound and the keys, certificate and logs are open, the network side
(the process that parses every PROXY header, FTP command, TLS record and SSH packet, before
and after login) becomes nopriv_user for good, keeping at most CAP_NET_BIND_SERVICE when
connect_from_port_20 binds a port below 1024. It cannot while it serves virtual users itself
(their database and files are written by this process): then it stays root and says why.
"""

from __future__ import annotations

import codecs
import ctypes
import dataclasses
import os
import pwd
import sys
from dataclasses import dataclass
from typing import Any

from ferryd.accounts.system import (
    Jail,
    PamLogin,
    SystemAccounts,
    authorized_keys,
    check_jail,
    pam_password_check,
)
from ferryd.app_sessions import system_account_rules
from ferryd.config import Settings
from ferryd.storage.user_process import FileProcessLauncher, PrivilegedHelper
from ferryd.users.model import SystemIdentity

_PR_SET_KEEPCAPS = 8
_CAP_NET_BIND_SERVICE = 10
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
LOWEST_UNPRIVILEGED_PORT = 1024


class PrivilegeError(Exception):
    """Root could not be given up as configured."""


def _check_password(args: dict[str, Any], fds: list[int]) -> bool:
    """In the PAM helper."""
    login = PamLogin(service=str(args["service"]), user=str(args["user"]),
                     rhost=str(args["rhost"]), tty=str(args["tty"]))
    password = args["password"]
    return pam_password_check(login, None if password is None else str(password))


def _read_authorized_keys(args: dict[str, Any], fds: list[int]) -> list[str]:
    """In the spawner: the keys file of a system user (never root's)."""
    account = pwd.getpwnam(str(args["name"]))
    if account.pw_uid == 0:
        raise ValueError("root's keys are never read")
    return list(authorized_keys(account))


def _check_jail(args: dict[str, Any], fds: list[int]) -> None:
    """In the spawner: the jail's root exists, is a folder, and (unless allowed) is not
    writable by the user; JailError says which."""
    identity = SystemIdentity(uid=int(args["uid"]), gid=int(args["gid"]),
                              groups=tuple(int(group) for group in args["groups"]))
    jail = Jail(root=str(args["root"]), start="/", jailed=bool(args["jailed"]))
    check_jail(jail, identity, allow_writeable=bool(args["allow_writeable"]))


@dataclass
class RootHelpers:
    launcher: FileProcessLauncher
    pam: PrivilegedHelper | None

    def system_accounts(self, settings: Settings) -> SystemAccounts | None:
        """System logins (local_enable) checked by the helpers, as any process may ask."""
        if self.pam is None or not settings.access.local_enable:
            return None
        pam, spawner = self.pam, self.launcher.helper

        def check_password(login: PamLogin, password: str | None) -> bool:
            return bool(pam.request(
                "check_password", {**dataclasses.asdict(login), "password": password}))

        def read_keys(account: pwd.struct_passwd) -> tuple[str, ...]:
            keys = spawner.request("authorized_keys", {"name": account.pw_name})
            return tuple(str(line) for line in keys)

        return SystemAccounts(system_account_rules(settings), password_check=check_password,
                              keys_reader=read_keys)

    def close(self) -> None:
        self.launcher.close()
        if self.pam is not None:
            self.pam.close()


def start_root_helpers(settings: Settings) -> RootHelpers | None:
    """The helpers, when ferryd runs as root and serves system users or anonymous FTP (whose
    sessions run as the ftp user). Forks: call it before any thread starts."""
    access = settings.access
    if os.geteuid() != 0 or not (access.local_enable or access.anonymous_enable):
        return None
    launcher = FileProcessLauncher({"authorized_keys": _read_authorized_keys,
                                    "check_jail": _check_jail})
    pam = (PrivilegedHelper("PAM helper", {"check_password": _check_password})
           if access.local_enable else None)
    return RootHelpers(launcher, pam)


def reason_to_keep_root(settings: Settings, virtual_users: int) -> str | None:
    """Why the network side cannot give up root (None: it can), as ferryd runs as root."""
    if settings.access.session_support and settings.access.local_enable:
        return ("session_support=YES: each system user's PAM session and utmp/wtmp records "
                "are held by a process ferryd starts as root for that session")
    if virtual_users:
        return (f"the user database holds {virtual_users} virtual user(s), whose database "
                "and files ferryd's network side reads and writes itself. To run it "
                "unprivileged, run ferryd as a dedicated user that owns data_dir and the "
                "virtual users' folders (virtual users need no root; for ports below 1024 "
                "give it CAP_NET_BIND_SERVICE, e.g. systemd's AmbientCapabilities=)")
    return None


def needs_port_binding(settings: Settings) -> bool:
    data = settings.data
    return (data.connect_from_port_20 and data.port_enable
            and 0 < data.ftp_data_port < LOWEST_UNPRIVILEGED_PORT)


def nopriv_account(user_name: str) -> pwd.struct_passwd:
    try:
        account = pwd.getpwnam(user_name)
    except KeyError as exc:
        raise PrivilegeError(
            f"nopriv_user={user_name}: no such system user; create it (useradd --system "
            f"--no-create-home --shell /usr/sbin/nologin {user_name}) or name another") from exc
    if account.pw_uid == 0:
        raise PrivilegeError(f"nopriv_user={user_name} is root: name an unprivileged user")
    return account


_CODE_HOMES = ("os", "_ssl", "asyncssh", "cryptography", "ferryd")
"""Modules whose folders hold what ferryd may import while serving: the standard library,
its C extensions, the site-packages, ferryd's own code."""


def unreadable_code(account: pwd.struct_passwd) -> str | None:
    """The first folder of Python code ferryd uses that the account cannot read, or None.
    Python imports some modules only when first used (a codec, say): after the drop they
    must still be readable. Asked in a short-lived child that becomes the account."""
    folders = []
    for name in _CODE_HOMES:
        path = getattr(sys.modules.get(name), "__file__", None)
        if path:
            folder = os.path.dirname(os.path.abspath(path))
            if os.path.basename(path) == "__init__.py":
                folder = os.path.dirname(folder)  # a package: the folder it sits in
            folders.append(folder)
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            os.setgroups([])
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            for index, folder in enumerate(folders, start=1):
                try:
                    os.listdir(folder)
                except OSError:
                    status = min(index, 255)
                    break
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return folders[code - 1] if 0 < code <= len(folders) else None


def drop_root(account: pwd.struct_passwd, *, keep_port_binding: bool) -> None:
    """Become the account (no supplementary groups) irreversibly, in every thread; keep
    CAP_NET_BIND_SERVICE in this thread (the event loop's) when asked."""
    codecs.lookup("idna")  # host names in socket calls: load the codec while it is readable
    libc = ctypes.CDLL(None, use_errno=True)
    if keep_port_binding:
        _call(libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")
    os.setgroups([])
    os.setgid(account.pw_gid)
    os.setuid(account.pw_uid)
    if keep_port_binding:
        _keep_only(libc, 1 << _CAP_NET_BIND_SERVICE)
        _call(libc.prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise PrivilegeError("root could be regained after dropping it: refusing to serve")


class _CapabilityHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapabilitySet(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _keep_only(libc: ctypes.CDLL, capabilities: int) -> None:
    header = _CapabilityHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    sets = (_CapabilitySet * 2)(_CapabilitySet(capabilities, capabilities, 0),
                                _CapabilitySet(0, 0, 0))
    _call(libc.capset(ctypes.byref(header), sets), "capset")


def _call(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise PrivilegeError(f"{what} failed: {os.strerror(error)}")


def can_bind_low_ports() -> bool:
    """Root, or CAP_NET_BIND_SERVICE in effect (what drop_root keeps)."""
    if os.geteuid() == 0:
        return True
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> _CAP_NET_BIND_SERVICE & 1)
    except (OSError, ValueError):
        pass
    return False
