"""The one place that wires concrete classes together: Settings -> running servers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import secrets
import signal
import sys
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, replace

from ferryd.accounts.anonymous import AnonymousLogins, AnonymousRules
from ferryd.accounts.system import (
    Jail,
    JailError,
    SystemAccountRules,
    SystemAccounts,
    check_jail,
    home_for,
    jail_for,
    read_name_list,
)
from ferryd.audit.file_sink import AuditSetupError, FileAuditSink, targets_from_options
from ferryd.certificates import CertificateRequest, default_names, fingerprint, write_certificate
from ferryd.config import ConfigError, Settings, settings_for_user
from ferryd.ftp.data_channel import DataChannelRules
from ferryd.ftp.passive_address import PassiveAddress, PassiveAddressError
from ferryd.ftp.passive_ports import PassivePortPool
from ferryd.ftp.proto.addresses import AddressSyntaxError, parse_address_map
from ferryd.ftp.server import FtpServer, ListenerAddress
from ferryd.ftp.services import FtpServices, command_set
from ferryd.ftp.tls import TlsProvider, TlsSetupError
from ferryd.policy.bans import BanRules, parse_allowlist
from ferryd.policy.limits import ConnectionLimiter
from ferryd.policy.permissions import (
    NameFilter,
    PermissionRules,
    anonymous_permissions,
    parse_name_patterns,
    permissions_from_vsftpd,
)
from ferryd.session.file_session import FileSession, SessionPolicy
from ferryd.session.listing import ListingStyle
from ferryd.session.login import Authenticator, LoginRules
from ferryd.session.transfers import TransferContext
from ferryd.sftp.host_keys import HostKeyError, prepare_host_keys
from ferryd.sftp.server import SftpServer
from ferryd.sftp.services import SftpServices
from ferryd.storage.errors import AccessDenied
from ferryd.storage.local import LocalFileSystem
from ferryd.storage.protocol import FileSystem
from ferryd.storage.user_process import FileProcessLauncher
from ferryd.storage.user_process_worker import FileProcessSpec
from ferryd.users.model import SystemIdentity, User
from ferryd.users.sqlite import SqliteUserStore
from ferryd.users.store import UserStore

log = logging.getLogger("ferryd")

FIRST_USER_NAME = "ferryd"
# Data connections run in worker threads (ftp/data_connection.py); one per running transfer.
TRANSFER_THREADS = 512


class StartupError(Exception):
    """Something the operator must fix before ferryd can serve; the text says what."""


def _say(message: str) -> None:
    print(f"ferryd: {message}", file=sys.stderr, flush=True)


def _prepare_tls(settings: Settings) -> TlsProvider | None:
    tls = settings.tls
    if not tls.ssl_enable:
        return None
    cert_file = tls.rsa_cert_file
    if cert_file and tls.cert_auto_generate and not os.path.exists(cert_file):
        names = default_names()
        printed = write_certificate(
            CertificateRequest(common_name=names[0], alternative_names=names[1:]), cert_file,
            tls.rsa_private_key_file,
        )
        _say(f"generated a self-signed certificate {cert_file}")
        _say(f"certificate SHA-256 fingerprint {printed}")
    try:
        provider = TlsProvider(tls)
    except TlsSetupError as exc:
        raise StartupError(str(exc)) from exc
    for notice in provider.notices:
        _say(f"notice: {notice}")
    if not (cert_file and tls.cert_auto_generate):
        with open(provider.cert_file, "rb") as handle:
            pem = handle.read()
        with contextlib.suppress(ValueError):
            _say(f"certificate SHA-256 fingerprint {fingerprint(pem)}")
    return provider


def _ban_rules(settings: Settings) -> BanRules:
    access = settings.access
    try:
        allowlist = parse_allowlist(access.ban_allowlist)
    except ValueError as exc:
        raise StartupError(str(exc)) from exc
    return BanRules(
        enabled=access.ban_enable, max_failures=access.ban_max_failures,
        window=float(access.ban_window), ban_time=float(access.ban_time), allowlist=allowlist,
    )


async def _passive_address(settings: Settings) -> PassiveAddress:
    data = settings.data
    try:
        network_map = parse_address_map(data.pasv_address_map or "")
        passive = PassiveAddress(
            address=data.pasv_address, resolve=data.pasv_addr_resolve, network_map=network_map
        )
        await passive.start()
    except (AddressSyntaxError, PassiveAddressError) as exc:
        raise StartupError(str(exc)) from exc
    return passive


def _banner(settings: Settings) -> str:
    ftp = settings.ftp
    if ftp.banner_file:
        try:
            with open(ftp.banner_file, encoding="utf-8", errors="replace") as handle:
                text = handle.read(64 * 1024).rstrip("\n")
        except OSError as exc:
            raise StartupError(f"banner_file={ftp.banner_file}: {exc.strerror}") from exc
        return text or "(ferryd)"
    return ftp.ftpd_banner or "(ferryd)"


@dataclass
class _SessionFactory:
    settings: Settings
    audit: FileAuditSink
    system_rules: SystemAccountRules
    launcher: FileProcessLauncher | None = None

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
        try:
            await asyncio.to_thread(
                check_jail, jail, identity,
                allow_writeable=self.settings.access.allow_writeable_chroot,
            )
        except JailError as exc:
            raise AccessDenied(str(exc)) from exc
        file_system = await self.launcher.start(FileProcessSpec(
            uid=identity.uid, gid=identity.gid, groups=identity.groups, root=jail.root,
            jail=jail.jailed, lock_files=self.settings.access.lock_upload_files,
        ))
        return file_system, jail.start

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
        return LocalFileSystem(root, lock_files=access.lock_upload_files), "/"

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

    async def _for_user_config(self, user: User) -> _SessionFactory:
        """user_config_dir: this factory with the options of the user's own file, if any."""
        folder = self.settings.access.user_config_dir
        if not folder or "/" in user.name or user.name.startswith("."):
            return self
        path = os.path.join(folder, user.name)
        if not await asyncio.to_thread(os.path.exists, path):
            return self
        try:
            settings, notices = await asyncio.to_thread(settings_for_user, self.settings, path)
            rules = await asyncio.to_thread(system_account_rules, settings)
        except (ConfigError, StartupError) as exc:
            raise AccessDenied(f"user_config_dir: {exc}") from exc
        for notice in notices:
            log.warning("login of %s: %s", user.name, notice)
        return replace(self, settings=settings, system_rules=rules)

    async def __call__(self, user: User, client_address: str, protocol: str) -> FileSession:
        factory = await self._for_user_config(user)
        return await factory._open(user, client_address, protocol)

    async def _open(self, user: User, client_address: str, protocol: str) -> FileSession:
        guest = self.settings.access.guest_enable and not user.anonymous
        if guest:
            user = await self._as_guest(user)
        file_system, start = await self._file_system(user)
        policy = self._policy(
            user, anonymous_rights=user.anonymous or (
                guest and not self.settings.access.virtual_use_local_privs
            ),
        )
        context = TransferContext(
            protocol=protocol, user=user.name, client_address=client_address,
            audit=self.audit, max_rate=policy.max_rate,
        )
        return FileSession(file_system=file_system, policy=policy, context=context, start=start)


async def _ensure_first_user(store: SqliteUserStore, data_dir: str) -> None:
    if await store.list():
        return
    password = secrets.token_urlsafe(15)
    home = os.path.join(data_dir, "home", FIRST_USER_NAME)
    os.makedirs(home, mode=0o750, exist_ok=True)
    await store.add(FIRST_USER_NAME, password, home)
    _say(f"created user '{FIRST_USER_NAME}' with password {password} (shown once; "
         f"change it with `ferryd user passwd {FIRST_USER_NAME}`)")


def _read_list(option: str, path: str | None) -> frozenset[str]:
    if not path:
        raise StartupError(f"{option} is empty: name the file of user names")
    try:
        return read_name_list(path)
    except OSError as exc:
        raise StartupError(f"{option}={path}: cannot read it ({exc.strerror})") from exc


def _login_rules(settings: Settings) -> LoginRules:
    ftp, access = settings.ftp, settings.access
    listed = (
        _read_list("userlist_file", access.userlist_file) if access.userlist_enable else None
    )
    return LoginRules(
        delay_failed_login=float(ftp.delay_failed_login),
        delay_successful_login=float(ftp.delay_successful_login),
        max_login_fails=ftp.max_login_fails,
        refused_names=listed if listed is not None and access.userlist_deny else frozenset(),
        only_names=listed if listed is not None and not access.userlist_deny else None,
    )


def anonymous_rules(settings: Settings, root: bool) -> AnonymousRules:
    access = settings.access
    return AnonymousRules(
        anon_root=access.anon_root, ftp_username=access.ftp_username or "ftp",
        no_anon_password=access.no_anon_password,
        banned_passwords=(
            _read_list("banned_email_file", access.banned_email_file)
            if access.deny_email_enable else None
        ),
        allowed_passwords=(
            _read_list("email_password_file", access.email_password_file)
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
            _read_list("chroot_list_file", access.chroot_list_file)
            if access.chroot_list_enable else None
        ),
        passwd_chroot_enable=access.passwd_chroot_enable,
        local_root=access.local_root,
        user_sub_token=access.user_sub_token,
        allow_writeable_chroot=access.allow_writeable_chroot,
    )


def _build_services(
    settings: Settings, store: SqliteUserStore, audit: FileAuditSink, tls: TlsProvider | None,
    executor: Executor, passive_address: PassiveAddress,
    launcher: FileProcessLauncher | None = None,
    system_accounts: SystemAccounts | None = None,
) -> FtpServices:
    ftp, data = settings.ftp, settings.data
    privileged = os.geteuid() == 0 or data.ftp_data_port >= 1024
    if data.connect_from_port_20 and not privileged:
        _say(f"notice: connect_from_port_20=YES needs root to bind port {data.ftp_data_port}; "
             "active data connections will come from an ephemeral port")
    stores: tuple[UserStore, ...] = (store,)
    if settings.access.anonymous_enable:
        stores = (AnonymousLogins(anonymous_rules(settings, launcher is not None)), *stores)
    if system_accounts is not None:
        stores = (*stores, system_accounts)
    authenticator = Authenticator(
        stores, _login_rules(settings), audit, _ban_rules(settings),
        anonymous_enabled=settings.access.anonymous_enable,
        anonymous_without_password=settings.access.no_anon_password,
    )
    data_rules = DataChannelRules(
        pasv_enable=data.pasv_enable, port_enable=data.port_enable,
        pasv_min_port=data.pasv_min_port, pasv_max_port=data.pasv_max_port,
        pasv_promiscuous=data.pasv_promiscuous, port_promiscuous=data.port_promiscuous,
        connect_from_port_20=data.connect_from_port_20, ftp_data_port=data.ftp_data_port,
        accept_timeout=float(data.accept_timeout),
        connect_timeout=float(data.connect_timeout),
        data_connection_timeout=float(data.data_connection_timeout),
    )
    low, high = data_rules.port_range()
    return FtpServices(
        listen=settings.listen, ftp=ftp, access=settings.access,
        data_rules=data_rules,
        passive_ports=PassivePortPool(low, high, promiscuous=data.pasv_promiscuous),
        authenticator=authenticator,
        open_session=_SessionFactory(
            settings, audit,
            system_accounts.rules if system_accounts else system_account_rules(settings),
            launcher,
        ),
        audit=audit,
        tls=tls,
        tls_implicit_main=settings.tls.implicit_ssl,
        force_logins_tls=tls is not None and settings.tls.force_local_logins_ssl,
        force_data_tls=tls is not None and settings.tls.force_local_data_ssl,
        allow_anonymous_tls=settings.tls.allow_anon_ssl,
        force_anonymous_logins_tls=tls is not None and settings.tls.force_anon_logins_ssl,
        force_anonymous_data_tls=tls is not None and settings.tls.force_anon_data_ssl,
        require_tls_reuse=settings.tls.require_ssl_reuse,
        strict_tls_read_eof=settings.tls.strict_ssl_read_eof,
        strict_tls_write_shutdown=settings.tls.strict_ssl_write_shutdown,
        debug_tls=settings.tls.debug_ssl,
        transfer_executor=executor,
        passive_address=passive_address.for_client,
        banner=_banner(settings),
        commands_allowed=command_set(ftp.cmds_allowed),
        commands_denied=command_set(ftp.cmds_denied) or frozenset(),
        active_source_port_allowed=privileged,
    )


async def serve(settings: Settings, *, embedded: bool) -> int:
    """Run until SIGTERM or SIGINT; returns the process exit status."""
    for notice in settings.notices:
        _say(f"notice: {notice}")
    if embedded:
        _say("serving the embedded default configuration (no --config given)")
    data_dir = settings.store.data_dir
    try:
        os.makedirs(data_dir, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"data_dir={data_dir}: cannot create it ({exc.strerror})") from exc
    launcher = _file_process_launcher(settings)  # forks: before any thread starts
    try:
        tls = _prepare_tls(settings)
        audit = _open_audit(settings)
        store = SqliteUserStore(settings.store.user_db)
        try:
            await _serve_with(settings, embedded=embedded, tls=tls, store=store, audit=audit,
                              launcher=launcher)
        finally:
            await store.close()
            audit.close()
    finally:
        if launcher is not None:
            launcher.close()
    _say("stopped")
    return 0


def _file_process_launcher(settings: Settings) -> FileProcessLauncher | None:
    """System users' (local_enable) and, as root, anonymous sessions need processes that
    become the user."""
    access = settings.access
    if not (access.local_enable or access.anonymous_enable):
        return None
    if os.geteuid() != 0:
        if not access.local_enable:
            return None
        _say("notice: local_enable=YES: system accounts cannot log in because ferryd is not "
             "running as root (each session of a system user runs as that user); virtual "
             "users log in as usual")
        return None
    return FileProcessLauncher()


def _open_audit(settings: Settings) -> FileAuditSink:
    log_settings = settings.log
    targets = targets_from_options(
        xferlog_enable=log_settings.xferlog_enable,
        xferlog_std_format=log_settings.xferlog_std_format,
        xferlog_file=log_settings.xferlog_file, vsftpd_log_file=log_settings.vsftpd_log_file,
        dual_log_enable=log_settings.dual_log_enable, syslog_enable=log_settings.syslog_enable,
        log_ftp_protocol=log_settings.log_ftp_protocol, use_localtime=log_settings.use_localtime,
    )
    try:
        return FileAuditSink(targets)
    except AuditSetupError as exc:
        raise StartupError(str(exc)) from exc


async def _serve_with(
    settings: Settings, *, embedded: bool, tls: TlsProvider | None, store: SqliteUserStore,
    audit: FileAuditSink, launcher: FileProcessLauncher | None,
) -> None:
    executor = ThreadPoolExecutor(TRANSFER_THREADS, thread_name_prefix="ferryd-transfer")
    system_accounts = (
        SystemAccounts(system_account_rules(settings))
        if launcher is not None and settings.access.local_enable else None
    )
    try:
        if embedded:
            await _ensure_first_user(store, settings.store.data_dir)
        passive_address = await _passive_address(settings)
        services = _build_services(settings, store, audit, tls, executor, passive_address,
                                   launcher, system_accounts)
        limiter = ConnectionLimiter(settings.listen.max_clients, settings.listen.max_per_ip)
        server = FtpServer(services, limiter)
        try:
            bound = await server.start()
        except OSError as exc:
            await server.close(0)
            raise StartupError(f"cannot listen: {exc.strerror} ({exc})") from exc
        _announce(bound)
        try:
            sftp_server = await _start_sftp(settings, services, limiter)
        except BaseException:
            await server.close(0)
            raise
        refresh = asyncio.create_task(
            passive_address.refresh_forever(settings.data.pasv_addr_refresh)
        )
        await _wait_for_stop(tls)
        refresh.cancel()
        _say("stopping: no new connections; running transfers may finish")
        await asyncio.gather(
            server.close(settings.listen.shutdown_grace),
            *([sftp_server.close(settings.listen.shutdown_grace)] if sftp_server else []),
        )
        services.passive_ports.close()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        if system_accounts is not None:
            system_accounts.close()


async def _start_sftp(
    settings: Settings, services: FtpServices, limiter: ConnectionLimiter
) -> SftpServer | None:
    """SFTP and SCP (sftp_enable): the FTP side's authenticator, sessions and limits."""
    sftp, ftp = settings.sftp, settings.ftp
    if not sftp.sftp_enable:
        return None
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    try:
        keys, made = await asyncio.to_thread(
            prepare_host_keys, sftp.sftp_host_key_file, settings.store.data_dir
        )
    except HostKeyError as exc:
        raise StartupError(str(exc)) from exc
    for key in made:
        _say(f"generated SSH host key {key.path}")
    for key in keys:
        _say(f"SSH host key {key.algorithm} fingerprint {key.fingerprint}")
    hosts = (sftp.sftp_listen_address,) if sftp.sftp_listen_address else (
        ("::", "0.0.0.0") if settings.listen.listen_ipv6 else ("0.0.0.0",)
    )
    server = SftpServer(
        SftpServices(
            listen_hosts=hosts, port=sftp.sftp_port, host_keys=[key.key for key in keys],
            authenticator=services.authenticator, open_session=services.open_session,
            listing=ListingStyle(use_localtime=ftp.use_localtime, hide_ids=ftp.hide_ids,
                                 text_userdb_names=ftp.text_userdb_names),
            scp_enable=sftp.scp_enable, password_auth=sftp.sftp_password_auth,
            pubkey_auth=sftp.sftp_pubkey_auth, banner=sftp.sftp_banner,
            idle_timeout=float(ftp.idle_session_timeout),
            login_grace=float(sftp.sftp_login_grace_time),
        ),
        limiter,
    )
    try:
        bound = await server.start()
    except OSError as exc:
        await server.close(0)
        raise StartupError(f"cannot listen for SFTP: {exc.strerror} ({exc})") from exc
    for host, port in bound:
        _say(f"listening sftp on {f'[{host}]' if ':' in host else host}:{port}")
    return server


def _announce(bound: list[ListenerAddress]) -> None:
    for address in bound:
        host = f"[{address.host}]" if ":" in address.host else address.host
        _say(f"listening {address.kind} on {host}:{address.port}")


async def _wait_for_stop(tls: TlsProvider | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def reload() -> None:
        if tls is None:
            _say("SIGHUP: nothing to reload (TLS is off)")
            return
        try:
            tls.reload()
        except TlsSetupError as exc:
            _say(f"SIGHUP: keeping the old certificate: {exc}")
            return
        _say("SIGHUP: certificate and key reloaded for new connections")

    loop.add_signal_handler(signal.SIGHUP, reload)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)


def run_server(settings: Settings, *, embedded: bool) -> int:
    logging.basicConfig(level=logging.INFO, format="ferryd: %(name)s: %(message)s")
    try:
        return asyncio.run(serve(settings, embedded=embedded))
    except StartupError as exc:
        _say(f"error: {exc}")
        return 2
