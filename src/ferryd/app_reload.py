"""The running servers and what a configuration reload (SIGHUP) swaps under them; the wait
for SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from ferryd.accounts.system import SystemAccounts
from ferryd.app_privileges import RootHelpers
from ferryd.app_services import build_services, passive_address_for, say, sftp_services
from ferryd.app_sessions import StartupError
from ferryd.audit.file_sink import FileAuditSink
from ferryd.config import ConfigError, Settings
from ferryd.ftp.passive_address import PassiveAddress
from ferryd.ftp.passive_ports import PassivePortPool
from ferryd.ftp.server import FtpServer
from ferryd.ftp.services import FtpServices
from ferryd.ftp.tls import TlsProvider, TlsSetupError
from ferryd.policy.limits import ConnectionLimiter
from ferryd.sftp.server import SftpServer
from ferryd.sftp.services import SftpServices
from ferryd.users.sqlite import SqliteUserStore

# Options a running server cannot take over on SIGHUP: its sockets, files and processes.
RESTART_OPTIONS = frozenset({
    "listen", "listen_ipv6", "listen_address", "listen_address6", "listen_port",
    "implicit_ssl_port", "ssl_enable", "implicit_ssl", "sftp_enable", "sftp_port",
    "sftp_listen_address", "sftp_host_key_file", "data_dir", "user_db", "local_enable",
    "anonymous_enable", "xferlog_enable", "xferlog_std_format", "xferlog_file",
    "vsftpd_log_file", "dual_log_enable", "syslog_enable", "log_ftp_protocol",
    "use_localtime", "proxy_protocol_enable", "log_format", "max_pending_logins",
})


@dataclass
class Serving:
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
            say(f"notice: {notice}")
        return provider

    def _build_from_files(
        self, new: Settings, passive_address: PassiveAddress
    ) -> tuple[TlsProvider | None, SystemAccounts | None, FtpServices]:
        tls = self._tls_for(new)
        helpers = self.helpers
        system_accounts = self.system_accounts
        if helpers is not None and new.access.local_enable:
            system_accounts = helpers.system_accounts(new)
        services = build_services(
            new, self.store, self.audit, tls, self.executor, passive_address,
            helpers.launcher if helpers else None, system_accounts,
            virtual_users=self.virtual_users, passive_ports=self.services.passive_ports,
            ban_list=self.services.authenticator.ban_list,
        )
        return tls, system_accounts, services

    async def reload(self, new: Settings) -> None:
        """New sessions use `new`; running ones keep what they started with."""
        old = self.settings
        kept = sorted(name for name in RESTART_OPTIONS if new.values[name] != old.values[name])
        passive_address = await passive_address_for(new)
        # Certificates, user lists and the banner are files: read them off the event loop.
        tls, system_accounts, services = await asyncio.to_thread(
            self._build_from_files, new, passive_address)
        if services.passive_ports not in self.pools:
            self.pools.append(services.passive_ports)
        self.ftp.use_services(services)
        if self.sftp is not None:
            old_sftp = self.sftp_services
            self.sftp.use_services(sftp_services(
                new, services, old_sftp.listen_hosts, list(old_sftp.host_keys)
            ))
        self.limiter.max_clients = new.listen.max_clients
        self.limiter.max_per_ip = new.listen.max_per_ip
        self.stop_refresh()
        self.settings, self.services, self.tls = new, services, tls
        self.passive_address, self.system_accounts = passive_address, system_accounts
        self.all_system_accounts.append(system_accounts)
        self.start_refresh()
        say("SIGHUP: configuration, users and certificate reloaded for new sessions")
        if kept:
            say(f"SIGHUP: these changed options take effect after a restart: {', '.join(kept)}")

    @property
    def sftp_services(self) -> SftpServices:
        assert self.sftp is not None
        return self.sftp.services


class SignalsBeforeServing:
    """The SIGHUP and SIGTERM handler until serving installs its own: a reload or a stop asked
    for during start-up (just after the listeners are printed) must neither end the process
    at once, as the default action would, nor be lost: they are carried out once serving."""

    HANDLED = (signal.SIGHUP, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: set[int] = set()

    def install(self) -> None:
        for sig in self.HANDLED:
            signal.signal(sig, self)

    def __call__(self, signum: int, frame: object) -> None:
        self.received.add(signum)


async def wait_for_stop(serving: Serving, load: Callable[[], Settings] | None) -> None:
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
            say(f"SIGHUP: keeping the running configuration: {exc}")

    def hangup() -> None:
        task = asyncio.create_task(reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    early = signal.getsignal(signal.SIGHUP)
    loop.add_signal_handler(signal.SIGHUP, hangup)
    if isinstance(early, SignalsBeforeServing):
        if signal.SIGHUP in early.received:
            hangup()
        if signal.SIGTERM in early.received:
            stop.set()
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        for task in reloads:
            task.cancel()
