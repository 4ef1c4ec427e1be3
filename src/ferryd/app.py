"""Settings -> running servers: start-up, giving root up, shutdown. With app_services.py,
app_reload.py, app_sessions.py and app_privileges.py, the one place that wires concrete
classes together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ferryd.allocator import return_large_blocks
from ferryd.app_privileges import (
    PrivilegeError,
    RootHelpers,
    drop_root,
    needs_port_binding,
    nopriv_account,
    reason_to_keep_root,
    start_root_helpers,
    unreadable_code,
)
from ferryd.app_reload import Serving, SignalsBeforeServing, wait_for_stop
from ferryd.app_services import build_services, passive_address_for, say, sftp_services
from ferryd.app_sessions import StartupError
from ferryd.audit.file_sink import AuditSetupError, FileAuditSink, targets_from_options
from ferryd.certificates import CertificateRequest, default_names, fingerprint, write_certificate
from ferryd.config import Settings
from ferryd.ftp.server import FtpServer, ListenerAddress
from ferryd.ftp.services import FtpServices
from ferryd.ftp.tls import TlsProvider, TlsSetupError
from ferryd.policy.limits import ConnectionLimiter
from ferryd.policy.pending_logins import PendingLogins
from ferryd.sftp.host_keys import HostKeyError, prepare_host_keys
from ferryd.sftp.server import SftpServer
from ferryd.storage.stale_uploads import remove_stale_uploads
from ferryd.users.model import User
from ferryd.users.sqlite import SqliteUserStore, configured_user_store
from ferryd.users.store import UserStoreError, parse_shared_folder

log = logging.getLogger("ferryd")

FIRST_USER_NAME = "ferryd"


# Data connections run in worker threads (ftp/data_connection.py); one per running transfer.
TRANSFER_THREADS = 512


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
        say(f"generated a self-signed certificate {cert_file}")
        say(f"certificate SHA-256 fingerprint {printed}")
    try:
        provider = TlsProvider(tls)
    except TlsSetupError as exc:
        raise StartupError(str(exc)) from exc
    for notice in provider.notices:
        say(f"notice: {notice}")
    if not (cert_file and tls.cert_auto_generate):
        with open(provider.cert_file, "rb") as handle:
            pem = handle.read()
        with contextlib.suppress(ValueError):
            say(f"certificate SHA-256 fingerprint {fingerprint(pem)}")
    return provider


async def _ensure_first_user(store: SqliteUserStore, data_dir: str) -> None:
    if await store.list():
        return
    password = secrets.token_urlsafe(15)
    home = os.path.join(data_dir, "home", FIRST_USER_NAME)
    os.makedirs(home, mode=0o750, exist_ok=True)
    await store.add(FIRST_USER_NAME, password, home)
    say(f"created user '{FIRST_USER_NAME}' with password {password} (shown once; "
         f"change it with `ferryd user passwd {FIRST_USER_NAME}`)")


async def serve(
    settings: Settings, *, embedded: bool, load: Callable[[], Settings] | None = None
) -> int:
    """Run until SIGTERM or SIGINT; returns the process exit status."""
    for notice in settings.notices:
        say(f"notice: {notice}")
    if embedded:
        say("serving the embedded default configuration (no --config given)")
    _raise_open_file_limit(settings.listen.max_clients)
    data_dir = settings.store.data_dir
    try:
        os.makedirs(data_dir, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"data_dir={data_dir}: cannot create it ({exc.strerror})") from exc
    if settings.access.local_enable and os.geteuid() != 0:
        say("notice: local_enable=YES: system accounts cannot log in because ferryd is not "
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
    say("stopped")
    return 0


FILES_PER_SESSION = 4  # control and data connection, the open file, a file process's socket


def _raise_open_file_limit(max_clients: int) -> None:
    """Each session holds a few descriptors: take the whole hard limit (the soft one is often
    1024, which ends a busy server with EMFILE near 250 sessions) and say when even that is
    short of max_clients."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    wanted = FILES_PER_SESSION * max_clients + 64
    if max_clients and soft != resource.RLIM_INFINITY and soft < wanted:
        say(f"notice: the open-file limit ({soft}) is below what max_clients={max_clients} "
            f"sessions may need ({wanted}): raise it (systemd: LimitNOFILE={wanted}; "
            "ulimit -n) or lower max_clients")


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
    serving: Serving | None = None
    try:
        if embedded:
            await _ensure_first_user(store, settings.store.data_dir)
        as_root = os.geteuid() == 0
        users = await _virtual_users(store) if as_root else None  # also for the sweep
        keep_root = reason_to_keep_root(settings, len(users)) if users is not None else None
        give_up_root = as_root and keep_root is None
        passive_address = await passive_address_for(settings)
        services = build_services(settings, store, audit, tls, executor, passive_address,
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
            await _sweep_stale_uploads(settings, store, users)  # the last work as root
            _give_up_root(settings)
        elif keep_root:
            say(f"notice: ferryd keeps running as root: {keep_root}")
        _announce([*bound, *sftp_bound])
        serving = Serving(
            settings=settings, services=services, ftp=server, sftp=sftp_server,
            limiter=limiter, passive_address=passive_address, tls=tls, store=store,
            audit=audit, executor=executor, helpers=helpers, system_accounts=system_accounts,
            virtual_users=not give_up_root,
        )
        serving.start_refresh()
        sweep = None if give_up_root else asyncio.create_task(
            _sweep_stale_uploads(settings, store, users))
        await wait_for_stop(serving, load)
        if sweep is not None:
            sweep.cancel()
        serving.stop_refresh()
        say("stopping: no new connections; running transfers may finish")
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


async def _virtual_users(store: SqliteUserStore) -> list[User]:
    try:
        return list(await store.list())
    except UserStoreError as exc:
        raise StartupError(f"the user database cannot be read: {exc}") from exc


def _give_up_root(settings: Settings) -> None:
    name = settings.access.nopriv_user or "nobody"
    try:
        account = nopriv_account(name)
        unreadable = unreadable_code(account)
        if unreadable is not None:
            say(f"notice: ferryd keeps running as root: nopriv_user={name} cannot read "
                 f"{unreadable}, where Python finds code it loads while serving; install "
                 "Python and ferryd where that user can read them (e.g. a virtual "
                 "environment under /opt)")
            return
        drop_root(account, keep_port_binding=needs_port_binding(settings))
    except PrivilegeError as exc:
        raise StartupError(str(exc)) from exc
    say(f"running as nopriv_user={name} from now on; PAM, the sessions' file processes and "
         "chown_uploads run in root helpers; a reload (SIGHUP) reads files as that user")


async def _sweep_stale_uploads(
    settings: Settings, store: SqliteUserStore, users: list[User] | None
) -> None:
    """Hidden partials a crash left in the virtual users' homes, shared folders and the
    anonymous root: removed once, in the background, after start-up. `users`: the database's,
    when start-up has read them already."""
    access = settings.access
    roots: list[str] = []
    try:
        for user in users if users is not None else await store.list():
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
        say(f"removed {removed} stale hidden partial upload(s) left by an earlier crash")


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
        say(f"generated SSH host key {key.path}")
    for key in keys:
        say(f"SSH host key {key.algorithm} fingerprint {key.fingerprint}")
    hosts = (sftp.sftp_listen_address,) if sftp.sftp_listen_address else (
        ("::", "0.0.0.0") if settings.listen.listen_ipv6 else ("0.0.0.0",)
    )
    server = SftpServer(
        sftp_services(settings, services, hosts, [key.key for key in keys]), limiter,
        pending_logins,
    )
    try:
        bound = await server.start()
    except OSError as exc:
        await server.close(0)
        raise StartupError(f"cannot listen for SFTP: {exc.strerror} ({exc})") from exc
    return server, [ListenerAddress("sftp", host, port) for host, port in bound]


def _announce(bound: list[ListenerAddress]) -> None:
    for address in bound:
        host = f"[{address.host}]" if ":" in address.host else address.host
        say(f"listening {address.kind} on {host}:{address.port}")


def run_server(
    settings: Settings, *, embedded: bool, load: Callable[[], Settings] | None = None
) -> int:
    """`load` reads the configuration again (SIGHUP); None: SIGHUP re-reads certificates only."""
    logging.basicConfig(level=logging.INFO, format="ferryd: %(name)s: %(message)s")
    return_large_blocks()  # before any thread: password checks must not bloat the arenas
    SignalsBeforeServing().install()
    try:
        return asyncio.run(serve(settings, embedded=embedded, load=load))
    except StartupError as exc:
        say(f"error: {exc}")
        return 2
