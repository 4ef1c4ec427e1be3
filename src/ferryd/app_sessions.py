"""app's wiring, continued: how a logged-in user's session is opened, and the account rules.

SessionFactory turns a User (virtual, system, anonymous or guest) and the settings into a
FileSession: which storage (own tree, shared folders, or a process running as the user), which
permissions, umask and rate; user_config_dir files applied on top.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
from dataclasses import dataclass, field, replace

from ferryd.accounts.anonymous import AnonymousRules
from ferryd.accounts.login_session import LoginSession, LoginSessionError
from ferryd.accounts.system import (
    Jail,
    SystemAccountRules,
    SystemAccounts,
    home_for,
    jail_for,
    read_name_list,
)
from ferryd.audit.file_sink import FileAuditSink
from ferryd.config import ConfigError, Settings, settings_for_user
from ferryd.policy.permissions import (
    NameFilter,
    PermissionRules,
    anonymous_permissions,
    parse_name_patterns,
    permissions_from_vsftpd,
)
from ferryd.session.file_session import FileSession, SessionPolicy
from ferryd.session.login import LoginRules
from ferryd.session.transfers import TransferContext
from ferryd.storage.errors import AccessDenied
from ferryd.storage.local import LocalFileSystem
from ferryd.storage.mounted import MountedFileSystem
from ferryd.storage.protocol import FileSystem
from ferryd.storage.user_process import FileProcessLauncher, PrivilegedRequestError, UploadOwner
from ferryd.storage.user_process_worker import FileProcessSpec
from ferryd.users.model import LoginOrigin, SystemIdentity, User
from ferryd.users.store import parse_shared_folder

log = logging.getLogger("ferryd")

_POLICY_CACHE_SIZE = 1024  # distinct (rules, rights) pairs kept; users mostly share a few


class StartupError(Exception):
    """Something the operator must fix before ferryd can serve; the text says what."""


@dataclass
class SessionFactory:
    settings: Settings
    audit: FileAuditSink
    system_rules: SystemAccountRules
    launcher: FileProcessLauncher | None = None
    system_accounts: SystemAccounts | None = None
    """For session_support: the PAM sessions of system users."""
    _policies: dict[tuple[tuple[str, ...], bool], SessionPolicy] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Policies are frozen and depend only on the settings and the user's rules: one object
    for every session alike (bench/session_memory.py: 1.1 KiB less per idle session)."""

    async def _system_file_system(self, user: User) -> tuple[FileSystem, str]:
        """Files served by a process running as the user's system identity, in their jail
        (anonymous users: always jailed in the anonymous root)."""
        identity = user.system
        assert identity is not None
        if self.launcher is None:
            raise AccessDenied("system accounts need ferryd to run as root")
        if user.anonymous:
            jail = Jail(root=user.home, start="/", jailed=True)
        else:
            jail = jail_for(user, self.system_rules)
        try:  # by the spawner, as root: the network side may no longer reach the folder
            await asyncio.to_thread(self.launcher.helper.request, "check_jail", {
                "root": jail.root, "jailed": jail.jailed, "uid": identity.uid,
                "gid": identity.gid, "groups": list(identity.groups),
                "allow_writeable": self.settings.access.allow_writeable_chroot,
            })
        except PrivilegedRequestError as exc:
            raise AccessDenied(str(exc)) from exc
        file_system = await self.launcher.start(
            FileProcessSpec(
                uid=identity.uid, gid=identity.gid, groups=identity.groups, root=jail.root,
                jail=jail.jailed, lock_files=self.settings.access.lock_upload_files,
            ),
            await self._upload_owner() if user.anonymous else None,
        )
        return file_system, jail.start

    async def _upload_owner(self) -> UploadOwner | None:
        """chown_uploads: anonymous uploads go to chown_username, mode chown_upload_mode."""
        access = self.settings.access
        if not access.chown_uploads:
            return None
        name = access.chown_username or "root"
        try:
            account = await asyncio.to_thread(pwd.getpwnam, name)
        except KeyError as exc:
            raise AccessDenied(f"chown_username={name} is not a system user") from exc
        return UploadOwner(account.pw_uid, account.pw_gid, access.chown_upload_mode)

    async def _file_system(self, user: User) -> tuple[FileSystem, str]:
        access = self.settings.access
        if user.system is not None:
            return await self._system_file_system(user)
        if user.anonymous:  # not root: the anonymous root as it is, never created
            if not await asyncio.to_thread(os.path.isdir, user.home):
                raise AccessDenied(f"anonymous root {user.home}: not a folder")
            return LocalFileSystem(user.home, lock_files=access.lock_upload_files), "/"
        root = home_for(user, self.system_rules)
        await asyncio.to_thread(os.makedirs, root, 0o750, True)
        home = LocalFileSystem(root, lock_files=access.lock_upload_files)
        if not user.folders:
            return home, "/"
        mounts: dict[str, FileSystem] = {}
        for text in user.folders:
            virtual, real = parse_shared_folder(text)
            if not await asyncio.to_thread(os.path.isdir, real):
                log.warning("shared folder %s of %s: %s is not a folder; it stays empty",
                            virtual, user.name, real)
            mounts[virtual] = LocalFileSystem(real, lock_files=access.lock_upload_files)
        return MountedFileSystem(home, mounts), "/"

    def _shared_policy(self, user: User, *, anonymous_rights: bool) -> SessionPolicy:
        key = (user.permissions, anonymous_rights)
        policy = self._policies.get(key)
        if policy is None:
            if len(self._policies) >= _POLICY_CACHE_SIZE:
                self._policies.clear()
            policy = self._policies[key] = self._policy(user, anonymous_rights=anonymous_rights)
        return policy

    def _policy(self, user: User, *, anonymous_rights: bool) -> SessionPolicy:
        """Local users' rights, or (anonymous; guests without virtual_use_local_privs) the
        anon_* ones."""
        access, ftp = self.settings.access, self.settings.ftp
        if anonymous_rights:
            permissions = anonymous_permissions(
                write_enable=access.write_enable, download_enable=access.download_enable,
                dirlist_enable=access.dirlist_enable,
                anon_upload_enable=access.anon_upload_enable,
                anon_mkdir_write_enable=access.anon_mkdir_write_enable,
                anon_other_write_enable=access.anon_other_write_enable,
            )
        else:
            permissions = permissions_from_vsftpd(
                write_enable=access.write_enable, download_enable=access.download_enable,
                dirlist_enable=access.dirlist_enable, chmod_enable=ftp.chmod_enable,
                mdtm_write=ftp.mdtm_write,
            )
        return SessionPolicy(
            permissions=PermissionRules.for_user(permissions, user.permissions),
            names=NameFilter(
                denied=parse_name_patterns(access.deny_file),
                hidden=parse_name_patterns(access.hide_file),
            ),
            umask=access.anon_umask if anonymous_rights else access.local_umask,
            file_open_mode=access.file_open_mode,
            delete_failed_uploads=access.delete_failed_uploads,
            max_rate=access.anon_max_rate if anonymous_rights else access.local_max_rate,
            atomic_uploads=access.upload_mode == "atomic",
            world_readable_only=anonymous_rights and access.anon_world_readable_only,
        )

    async def _as_guest(self, user: User) -> User:
        """guest_enable: a non-anonymous login becomes guest_username: its identity (as
        root), and its home unless local_root (with user_sub_token) says otherwise."""
        access = self.settings.access
        name = access.guest_username or "ftp"
        try:
            account = await asyncio.to_thread(pwd.getpwnam, name)
        except KeyError as exc:
            raise AccessDenied(f"guest_username={name} is not a system user") from exc
        if account.pw_uid == 0:
            raise AccessDenied(f"guest_username={name} is root: refused")
        identity = SystemIdentity(uid=account.pw_uid, gid=account.pw_gid, groups=())
        return replace(
            user, home=account.pw_dir,
            system=identity if self.launcher is not None else None,
        )

    async def _for_user_config(self, user: User) -> SessionFactory:
        """user_config_dir: this factory with the options of the user's own file, if any."""
        folder = self.settings.access.user_config_dir
        if not folder or "/" in user.name or user.name.startswith("."):
            return self
        path = os.path.join(folder, user.name)

        def read() -> tuple[Settings, tuple[str, ...], SystemAccountRules] | None:
            if not os.path.exists(path):
                return None  # no file: the main configuration
            settings, notices = settings_for_user(self.settings, path)
            return settings, notices, system_account_rules(settings)

        try:
            found = await asyncio.to_thread(read)  # one hop for the file and its lists
        except (ConfigError, StartupError) as exc:
            raise AccessDenied(f"user_config_dir: {exc}") from exc
        if found is None:
            return self
        settings, notices, rules = found
        for notice in notices:
            log.warning("login of %s: %s", user.name, notice)
        return replace(self, settings=settings, system_rules=rules)

    async def __call__(self, user: User, client_address: str, protocol: str) -> FileSession:
        factory = await self._for_user_config(user)
        return await factory._open(user, client_address, protocol)

    async def _login_session(self, user: User, origin: LoginOrigin) -> LoginSession | None:
        """session_support=YES, for a system user (not anonymous, not a guest): the PAM
        session and utmp/wtmp records, as vsftpd keeps them."""
        accounts = self.system_accounts
        if not self.settings.access.session_support or accounts is None or user.anonymous:
            return None
        try:
            return await accounts.open_login_session(user, origin)
        except LoginSessionError as exc:
            raise AccessDenied(f"session_support: PAM session of {user.name}: {exc}") from exc

    async def _open(self, user: User, client_address: str, protocol: str) -> FileSession:
        guest = self.settings.access.guest_enable and not user.anonymous
        if guest:
            user = await self._as_guest(user)
        login = None if guest or user.system is None else await self._login_session(
            user, LoginOrigin(client_address, protocol)
        )
        try:
            file_system, start = await self._file_system(user)
        except BaseException:
            if login is not None:
                await login.close()
            raise
        policy = self._shared_policy(
            user, anonymous_rights=user.anonymous or (
                guest and not self.settings.access.virtual_use_local_privs
            ),
        )
        context = TransferContext(
            protocol=protocol, user=user.name, client_address=client_address,
            audit=self.audit, max_rate=policy.max_rate,
        )
        return FileSession(file_system=file_system, policy=policy, context=context, start=start,
                           on_close=login.close if login is not None else None)


def read_list(option: str, path: str | None) -> frozenset[str]:
    if not path:
        raise StartupError(f"{option} is empty: name the file of user names")
    try:
        return read_name_list(path)
    except OSError as exc:
        raise StartupError(f"{option}={path}: cannot read it ({exc.strerror})") from exc


def login_rules(settings: Settings) -> LoginRules:
    ftp, access = settings.ftp, settings.access
    listed = (
        read_list("userlist_file", access.userlist_file) if access.userlist_enable else None
    )
    return LoginRules(
        delay_failed_login=float(ftp.delay_failed_login),
        delay_successful_login=float(ftp.delay_successful_login),
        max_login_fails=ftp.max_login_fails,
        refused_names=listed if listed is not None and access.userlist_deny else frozenset(),
        only_names=listed if listed is not None and not access.userlist_deny else None,
        userlist_log=access.userlist_enable and access.userlist_log,
    )


def anonymous_rules(settings: Settings, root: bool) -> AnonymousRules:
    access = settings.access
    return AnonymousRules(
        anon_root=access.anon_root, ftp_username=access.ftp_username or "ftp",
        no_anon_password=access.no_anon_password,
        banned_passwords=(
            read_list("banned_email_file", access.banned_email_file)
            if access.deny_email_enable else None
        ),
        allowed_passwords=(
            read_list("email_password_file", access.email_password_file)
            if access.secure_email_list_enable else None
        ),
        run_as_ftp_user=root,
    )


def system_account_rules(settings: Settings) -> SystemAccountRules:
    access = settings.access
    return SystemAccountRules(
        pam_service_name=access.pam_service_name or "ftp",
        check_shell=access.check_shell,
        chroot_local_user=access.chroot_local_user,
        chroot_list=(
            read_list("chroot_list_file", access.chroot_list_file)
            if access.chroot_list_enable else None
        ),
        passwd_chroot_enable=access.passwd_chroot_enable,
        local_root=access.local_root,
        user_sub_token=access.user_sub_token,
        allow_writeable_chroot=access.allow_writeable_chroot,
        reverse_lookup_enable=access.reverse_lookup_enable,
    )


