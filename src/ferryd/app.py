"""The one place (with app_sessions.py) that wires concrete classes together: Settings ->
running servers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field

import asyncssh

from ferryd.accounts.anonymous import AnonymousLogins
from ferryd.accounts.system import SystemAccounts
from ferryd.app_privileges import (
    LOWEST_UNPRIVILEGED_PORT,
    PrivilegeError,
    RootHelpers,
    can_bind_low_ports,
    drop_root,
    needs_port_binding,
    nopriv_account,
    reason_to_keep_root,
    start_root_helpers,
    unreadable_code,
)
from ferryd.app_sessions import (
    SessionFactory,
    StartupError,
    anonymous_rules,
    login_rules,
    system_account_rules,
)
from ferryd.audit.file_sink import AuditSetupError, FileAuditSink, targets_from_options
from ferryd.certificates import CertificateRequest, default_names, fingerprint, write_certificate
from ferryd.config import ConfigError, Settings
from ferryd.ftp.data_channel import DataChannelRules
from ferryd.ftp.passive_address import PassiveAddress, PassiveAddressError
from ferryd.ftp.passive_ports import PassivePortPool
from ferryd.ftp.proto.addresses import AddressSyntaxError, parse_address_map
from ferryd.ftp.server import FtpServer, ListenerAddress
from ferryd.ftp.services import FtpServices, command_set
from ferryd.ftp.tls import TlsProvider, TlsSetupError
from ferryd.policy.bans import BanList, BanRules, parse_allowlist
from ferryd.policy.limits import ConnectionLimiter
from ferryd.policy.pending_logins import PendingLogins
from ferryd.proxy.header import ProxyRules, parse_trusted
from ferryd.session.listing import ListingStyle
from ferryd.session.login import Authenticator
from ferryd.sftp.host_keys import HostKeyError, prepare_host_keys
from ferryd.sftp.server import SftpServer
from ferryd.sftp.services import SftpServices
from ferryd.storage.stale_uploads import remove_stale_uploads
from ferryd.storage.user_process import FileProcessLauncher
from ferryd.users.sqlite import SqliteUserStore, configured_user_store
from ferryd.users.store import UserStore, UserStoreError, parse_shared_folder

log = logging.getLogger("ferryd")

FIRST_USER_NAME = "ferryd"
# Data connections run in worker threads (ftp/data_connection.py); one per running transfer.
TRANSFER_THREADS = 512


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


def _proxy_rules(settings: Settings) -> ProxyRules | None:
    """proxy_protocol_enable: the trusted balancers (the config check made sure they parse)."""
    listen = settings.listen
    if not listen.proxy_protocol_enable:
        return None
    if settings.sftp.sftp_enable:
        _say("notice: proxy_protocol_enable=YES applies to FTP and FTPS only: SFTP connections "
             "are not read for a PROXY header, so behind a balancer SFTP sees the balancer's "
             "address; forward the SFTP port without the PROXY protocol (docs/nat.md)")
    return ProxyRules(parse_trusted(listen.proxy_protocol_trusted))


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


async def _ensure_first_user(store: SqliteUserStore, data_dir: str) -> None:
    if await store.list():
        return
    password = secrets.token_urlsafe(15)
    home = os.path.join(data_dir, "home", FIRST_USER_NAME)
    os.makedirs(home, mode=0o750, exist_ok=True)
    await store.add(FIRST_USER_NAME, password, home)
    _say(f"created user '{FIRST_USER_NAME}' with password {password} (shown once; "
         f"change it with `ferryd user passwd {FIRST_USER_NAME}`)")


def _build_services(
    settings: Settings, store: SqliteUserStore, audit: FileAuditSink, tls: TlsProvider | None,
    executor: Executor, passive_address: PassiveAddress,
    launcher: FileProcessLauncher | None = None,
    system_accounts: SystemAccounts | None = None,
    *, passive_ports: PassivePortPool | None = None, ban_list: BanList | None = None,
    virtual_users: bool = True,
) -> FtpServices:
    """`virtual_users`: whether the user database is asked at login (not once root is given
    up: see app_privileges.py)."""
    ftp, data = settings.ftp, settings.data
    privileged = data.ftp_data_port >= LOWEST_UNPRIVILEGED_PORT or can_bind_low_ports()
    if data.connect_from_port_20 and not privileged:
        _say(f"notice: connect_from_port_20=YES needs root to bind port {data.ftp_data_port}; "
             "active data connections will come from an ephemeral port")
    stores: tuple[UserStore, ...] = (store,) if virtual_users else ()
    if settings.access.anonymous_enable:
        stores = (AnonymousLogins(anonymous_rules(settings, launcher is not None)), *stores)
    if system_accounts is not None:
        stores = (*stores, system_accounts)
    ban_rules = _ban_rules(settings)
    authenticator = Authenticator(
        stores, login_rules(settings), audit, ban_rules,
        anonymous_enabled=settings.access.anonymous_enable,
        anonymous_without_password=settings.access.no_anon_password,
        ban_list=ban_list if ban_list is not None and ban_list.rules == ban_rules else None,
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
    proxy = _proxy_rules(settings)
    if passive_ports is None or not passive_ports.matches(
        low, high, data.pasv_promiscuous, proxy
    ):
        passive_ports = PassivePortPool(low, high, promiscuous=data.pasv_promiscuous,
                                        proxy=proxy)
    return FtpServices(
        listen=settings.listen, ftp=ftp, access=settings.access,
        data_rules=data_rules,
        passive_ports=passive_ports,
        authenticator=authenticator,
        open_session=SessionFactory(
            settings, audit,
            system_accounts.rules if system_accounts else system_account_rules(settings),
            launcher, system_accounts,
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
        proxy=proxy,
    )


async def serve(
    settings: Settings, *, embedded: bool, load: Callable[[], Settings] | None = None
) -> int:
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
    if settings.access.local_enable and os.geteuid() != 0:
        _say("notice: local_enable=YES: system accounts cannot log in because ferryd is not "
             "running as root (each session of a system user runs as that user); virtual "
             "users log in as usual")
    helpers = start_root_helpers(settings)  # forks: before any thread starts
    try:
        tls = _prepare_tls(settings)
        audit = _open_audit(settings)
        store = configured_user_store(settings.store)
        try:
            await _serve_with(settings, embedded=embedded, tls=tls, store=store, audit=audit,
                              helpers=helpers, load=load)
        finally:
            await store.close()
            audit.close()
    finally:
        if helpers is not None:
            helpers.close()
    _say("stopped")
    return 0


def _open_audit(settings: Settings) -> FileAuditSink:
    log_settings = settings.log
    targets = targets_from_options(
        xferlog_enable=log_settings.xferlog_enable,
        xferlog_std_format=log_settings.xferlog_std_format,
        xferlog_file=log_settings.xferlog_file, vsftpd_log_file=log_settings.vsftpd_log_file,
        dual_log_enable=log_settings.dual_log_enable, syslog_enable=log_settings.syslog_enable,
        log_ftp_protocol=log_settings.log_ftp_protocol, use_localtime=log_settings.use_localtime,
        log_format=log_settings.log_format,
    )
    try:
        return FileAuditSink(targets)
    except AuditSetupError as exc:
        raise StartupError(str(exc)) from exc


async def _serve_with(
    settings: Settings, *, embedded: bool, tls: TlsProvider | None, store: SqliteUserStore,
    audit: FileAuditSink, helpers: RootHelpers | None,
    load: Callable[[], Settings] | None = None,
) -> None:
    executor = ThreadPoolExecutor(TRANSFER_THREADS, thread_name_prefix="ferryd-transfer")
    system_accounts = helpers.system_accounts(settings) if helpers else None
    launcher = helpers.launcher if helpers else None
    serving: _Serving | None = None
    try:
        if embedded:
            await _ensure_first_user(store, settings.store.data_dir)
        as_root = os.geteuid() == 0
        keep_root = (reason_to_keep_root(settings, await _count_users(store)) if as_root
                     else None)
        give_up_root = as_root and keep_root is None
        passive_address = await _passive_address(settings)
        services = _build_services(settings, store, audit, tls, executor, passive_address,
                                   launcher, system_accounts, virtual_users=not give_up_root)
        limiter = ConnectionLimiter(settings.listen.max_clients, settings.listen.max_per_ip)
        pending_logins = PendingLogins(settings.listen.max_pending_logins)  # FTP and SFTP
        server = FtpServer(services, limiter, pending_logins)
        try:
            bound = await server.start()
        except OSError as exc:
            await server.close(0)
            raise StartupError(f"cannot listen: {exc.strerror} ({exc})") from exc
        try:
            started = await _start_sftp(settings, services, limiter, pending_logins)
        except BaseException:
            await server.close(0)
            raise
        sftp_server, sftp_bound = started if started else (None, [])
        if give_up_root:  # no virtual users to serve: nothing here needs root any more
            await _sweep_stale_uploads(settings, store)  # the last work done as root
            _give_up_root(settings)
        elif keep_root:
            _say(f"notice: ferryd keeps running as root: {keep_root}")
        _announce([*bound, *sftp_bound])
        serving = _Serving(
            settings=settings, services=services, ftp=server, sftp=sftp_server,
            limiter=limiter, passive_address=passive_address, tls=tls, store=store,
            audit=audit, executor=executor, helpers=helpers, system_accounts=system_accounts,
            virtual_users=not give_up_root,
        )
        serving.start_refresh()
        sweep = None if give_up_root else asyncio.create_task(
            _sweep_stale_uploads(settings, store))
        await _wait_for_stop(serving, load)
        if sweep is not None:
            sweep.cancel()
        serving.stop_refresh()
        _say("stopping: no new connections; running transfers may finish")
        grace = serving.settings.listen.shutdown_grace
        await asyncio.gather(
            server.close(grace), *([sftp_server.close(grace)] if sftp_server else []),
        )
        for pool in serving.pools:
            pool.close()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        for accounts in serving.all_system_accounts if serving else [system_accounts]:
            if accounts is not None:
                accounts.close()


async def _count_users(store: SqliteUserStore) -> int:
    try:
        return len(await store.list())
    except UserStoreError as exc:
        raise StartupError(f"the user database cannot be read: {exc}") from exc


def _give_up_root(settings: Settings) -> None:
    name = settings.access.nopriv_user or "nobody"
    try:
        account = nopriv_account(name)
        unreadable = unreadable_code(account)
        if unreadable is not None:
            _say(f"notice: ferryd keeps running as root: nopriv_user={name} cannot read "
                 f"{unreadable}, where Python finds code it loads while serving; install "
                 "Python and ferryd where that user can read them (e.g. a virtual "
                 "environment under /opt)")
            return
        drop_root(account, keep_port_binding=needs_port_binding(settings))
    except PrivilegeError as exc:
        raise StartupError(str(exc)) from exc
    _say(f"running as nopriv_user={name} from now on; PAM, the sessions' file processes and "
         "chown_uploads run in root helpers; a reload (SIGHUP) reads files as that user")


async def _sweep_stale_uploads(settings: Settings, store: SqliteUserStore) -> None:
    """Hidden partials a crash left in the virtual users' homes, shared folders and the
    anonymous root: removed once, in the background, after start-up."""
    access = settings.access
    roots: list[str] = []
    try:
        for user in await store.list():
            roots.append(user.home)
            if access.local_root:
                token = access.user_sub_token
                roots.append(access.local_root.replace(token, user.name) if token
                             else access.local_root)
            roots += [real for _virtual, real in map(parse_shared_folder, user.folders)]
        if access.anon_root:
            roots.append(access.anon_root)
        removed = await asyncio.to_thread(remove_stale_uploads, roots)
    except (UserStoreError, OSError, ValueError) as exc:  # housekeeping: never fatal
        log.warning("could not sweep stale partial uploads: %s", exc)
        return
    if removed:
        _say(f"removed {removed} stale hidden partial upload(s) left by an earlier crash")


# Options a running server cannot take over on SIGHUP: its sockets, files and processes.
_RESTART_OPTIONS = frozenset({
    "listen", "listen_ipv6", "listen_address", "listen_address6", "listen_port",
    "implicit_ssl_port", "ssl_enable", "implicit_ssl", "sftp_enable", "sftp_port",
    "sftp_listen_address", "sftp_host_key_file", "data_dir", "user_db", "local_enable",
    "anonymous_enable", "xferlog_enable", "xferlog_std_format", "xferlog_file",
    "vsftpd_log_file", "dual_log_enable", "syslog_enable", "log_ftp_protocol",
    "use_localtime", "proxy_protocol_enable", "log_format", "max_pending_logins",
})


@dataclass
class _Serving:
    """The running servers and what a configuration reload (SIGHUP) swaps under them."""

    settings: Settings
    services: FtpServices
    ftp: FtpServer
    sftp: SftpServer | None
    limiter: ConnectionLimiter
    passive_address: PassiveAddress
    tls: TlsProvider | None
    store: SqliteUserStore
    audit: FileAuditSink
    executor: Executor
    helpers: RootHelpers | None
    system_accounts: SystemAccounts | None
    virtual_users: bool
    pools: list[PassivePortPool] = field(default_factory=list)
    all_system_accounts: list[SystemAccounts | None] = field(default_factory=list)
    refresh: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.pools.append(self.services.passive_ports)
        self.all_system_accounts.append(self.system_accounts)

    def start_refresh(self) -> None:
        self.refresh = asyncio.create_task(
            self.passive_address.refresh_forever(self.settings.data.pasv_addr_refresh)
        )

    def stop_refresh(self) -> None:
        if self.refresh is not None:
            self.refresh.cancel()

    def _tls_for(self, new: Settings) -> TlsProvider | None:
        """The running TLS provider with its certificate re-read, or a new one when the TLS
        options changed."""
        if self.tls is None:
            return None
        if new.tls == self.settings.tls:
            self.tls.reload()
            return self.tls
        provider = TlsProvider(new.tls)
        for notice in provider.notices:
            _say(f"notice: {notice}")
        return provider

    def _build_from_files(
        self, new: Settings, passive_address: PassiveAddress
    ) -> tuple[TlsProvider | None, SystemAccounts | None, FtpServices]:
        tls = self._tls_for(new)
        helpers = self.helpers
        system_accounts = self.system_accounts
        if helpers is not None and new.access.local_enable:
            system_accounts = helpers.system_accounts(new)
        services = _build_services(
            new, self.store, self.audit, tls, self.executor, passive_address,
            helpers.launcher if helpers else None, system_accounts,
            virtual_users=self.virtual_users, passive_ports=self.services.passive_ports,
            ban_list=self.services.authenticator.ban_list,
        )
        return tls, system_accounts, services

    async def reload(self, new: Settings) -> None:
        """New sessions use `new`; running ones keep what they started with."""
        old = self.settings
        kept = sorted(name for name in _RESTART_OPTIONS if new.values[name] != old.values[name])
        passive_address = await _passive_address(new)
        # Certificates, user lists and the banner are files: read them off the event loop.
        tls, system_accounts, services = await asyncio.to_thread(
            self._build_from_files, new, passive_address)
        if services.passive_ports not in self.pools:
            self.pools.append(services.passive_ports)
        self.ftp.use_services(services)
        if self.sftp is not None:
            old_sftp = self.sftp_services
            self.sftp.use_services(_sftp_services(
                new, services, old_sftp.listen_hosts, list(old_sftp.host_keys)
            ))
        self.limiter.max_clients = new.listen.max_clients
        self.limiter.max_per_ip = new.listen.max_per_ip
        self.stop_refresh()
        self.settings, self.services, self.tls = new, services, tls
        self.passive_address, self.system_accounts = passive_address, system_accounts
        self.all_system_accounts.append(system_accounts)
        self.start_refresh()
        _say("SIGHUP: configuration, users and certificate reloaded for new sessions")
        if kept:
            _say(f"SIGHUP: these changed options take effect after a restart: {', '.join(kept)}")

    @property
    def sftp_services(self) -> SftpServices:
        assert self.sftp is not None
        return self.sftp.services


async def _start_sftp(
    settings: Settings, services: FtpServices, limiter: ConnectionLimiter,
    pending_logins: PendingLogins,
) -> tuple[SftpServer, list[ListenerAddress]] | None:
    """SFTP and SCP (sftp_enable): the FTP side's authenticator, sessions and limits."""
    sftp = settings.sftp
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
        _sftp_services(settings, services, hosts, [key.key for key in keys]), limiter,
        pending_logins,
    )
    try:
        bound = await server.start()
    except OSError as exc:
        await server.close(0)
        raise StartupError(f"cannot listen for SFTP: {exc.strerror} ({exc})") from exc
    return server, [ListenerAddress("sftp", host, port) for host, port in bound]


def _sftp_services(
    settings: Settings, services: FtpServices, hosts: tuple[str, ...],
    host_keys: list[asyncssh.SSHKey],
) -> SftpServices:
    sftp, ftp = settings.sftp, settings.ftp
    return SftpServices(
        listen_hosts=hosts, port=sftp.sftp_port, host_keys=host_keys,
        authenticator=services.authenticator, open_session=services.open_session,
        listing=ListingStyle(use_localtime=ftp.use_localtime, hide_ids=ftp.hide_ids,
                             text_userdb_names=ftp.text_userdb_names),
        scp_enable=sftp.scp_enable, password_auth=sftp.sftp_password_auth,
        pubkey_auth=sftp.sftp_pubkey_auth, banner=sftp.sftp_banner,
        idle_timeout=float(ftp.idle_session_timeout),
        login_grace=float(sftp.sftp_login_grace_time),
    )


def _announce(bound: list[ListenerAddress]) -> None:
    for address in bound:
        host = f"[{address.host}]" if ":" in address.host else address.host
        _say(f"listening {address.kind} on {host}:{address.port}")


class _HangupsBeforeServing:
    """The SIGHUP handler until serving installs its own: a reload asked for during start-up
    (just after the listeners are printed) must neither end the process, as the default
    action would, nor be lost."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, signum: int, frame: object) -> None:
        self.count += 1


async def _wait_for_stop(serving: _Serving, load: Callable[[], Settings] | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        try:
            new = await asyncio.to_thread(load) if load is not None else serving.settings
            await serving.reload(new)
        except (ConfigError, StartupError, TlsSetupError) as exc:
            _say(f"SIGHUP: keeping the running configuration: {exc}")

    def hangup() -> None:
        task = asyncio.create_task(reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    early = signal.getsignal(signal.SIGHUP)
    loop.add_signal_handler(signal.SIGHUP, hangup)
    if isinstance(early, _HangupsBeforeServing) and early.count:
        hangup()
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        for task in reloads:
            task.cancel()


def run_server(
    settings: Settings, *, embedded: bool, load: Callable[[], Settings] | None = None
) -> int:
    """`load` reads the configuration again (SIGHUP); None: SIGHUP re-reads certificates only."""
    logging.basicConfig(level=logging.INFO, format="ferryd: %(name)s: %(message)s")
    signal.signal(signal.SIGHUP, _HangupsBeforeServing())
    try:
        return asyncio.run(serve(settings, embedded=embedded, load=load))
    except StartupError as exc:
        _say(f"error: {exc}")
        return 2
