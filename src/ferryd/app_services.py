"""What ferryd serves with, built from Settings: the FTP and SFTP services, the passive
address, the ban and PROXY rules, the banner; at start-up and again on SIGHUP.
"""

from __future__ import annotations

import sys
from concurrent.futures import Executor

import asyncssh

from ferryd.accounts.anonymous import AnonymousLogins
from ferryd.accounts.system import SystemAccounts
from ferryd.app_privileges import (
    LOWEST_UNPRIVILEGED_PORT,
    can_bind_low_ports,
)
from ferryd.app_sessions import (
    SessionFactory,
    StartupError,
    anonymous_rules,
    login_rules,
    system_account_rules,
)
from ferryd.audit.file_sink import FileAuditSink
from ferryd.config import Settings
from ferryd.ftp.data_channel import DataChannelRules
from ferryd.ftp.passive_address import PassiveAddress, PassiveAddressError
from ferryd.ftp.passive_ports import PassivePortPool
from ferryd.ftp.proto.addresses import AddressSyntaxError, parse_address_map
from ferryd.ftp.services import FtpServices, command_set
from ferryd.ftp.tls import TlsProvider
from ferryd.policy.bans import BanList, BanRules, parse_allowlist
from ferryd.proxy.header import ProxyRules, parse_trusted
from ferryd.session.listing import ListingStyle
from ferryd.session.login import Authenticator
from ferryd.sftp.services import SftpServices
from ferryd.storage.user_process import FileProcessLauncher
from ferryd.users.sqlite import SqliteUserStore
from ferryd.users.store import UserStore


def say(message: str) -> None:
    print(f"ferryd: {message}", file=sys.stderr, flush=True)


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


async def passive_address_for(settings: Settings) -> PassiveAddress:
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
        say("notice: proxy_protocol_enable=YES applies to FTP and FTPS only: SFTP connections "
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


def build_services(
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
        say(f"notice: connect_from_port_20=YES needs root to bind port {data.ftp_data_port}; "
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


def sftp_services(
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
