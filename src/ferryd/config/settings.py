"""Frozen settings, one dataclass per component, built from effective option values.

Field names are the canonical option names. Which option goes into which class is the `groups`
column of the option table; the classes below only declare the fields' types, and a unit test
keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

from ferryd.config.options import OPTIONS, Group, OptionValue, format_value, options_in_group


@dataclass(frozen=True)
class ListenSettings:
    listen: bool
    listen_ipv6: bool
    listen_address: str | None
    listen_address6: str | None
    listen_port: int
    implicit_ssl_port: int
    max_clients: int
    max_per_ip: int
    max_line_length: int
    shutdown_grace: int
    proxy_protocol_enable: bool
    proxy_protocol_trusted: str | None
    max_pending_logins: int


@dataclass(frozen=True)
class FtpSettings:
    ftpd_banner: str | None
    banner_file: str | None
    dirmessage_enable: bool
    message_file: str
    idle_session_timeout: int
    max_login_fails: int
    delay_failed_login: int
    delay_successful_login: int
    async_abor_enable: bool
    ascii_upload_enable: bool
    ascii_download_enable: bool
    ls_recurse_enable: bool
    force_dot_files: bool
    hide_ids: bool
    text_userdb_names: bool
    use_localtime: bool
    mdtm_write: bool
    chmod_enable: bool
    tilde_user_enable: bool
    trans_chunk_size: int
    use_sendfile: bool
    cmds_allowed: str | None
    cmds_denied: str | None


@dataclass(frozen=True)
class DataChannelSettings:
    pasv_enable: bool
    pasv_min_port: int
    pasv_max_port: int
    pasv_address: str | None
    pasv_addr_resolve: bool
    pasv_promiscuous: bool
    port_enable: bool
    port_promiscuous: bool
    connect_from_port_20: bool
    ftp_data_port: int
    data_connection_timeout: int
    accept_timeout: int
    connect_timeout: int
    pasv_address_map: str | None
    pasv_addr_refresh: int


@dataclass(frozen=True)
class AccessSettings:
    anonymous_enable: bool
    nopriv_user: str | None
    local_enable: bool
    write_enable: bool
    download_enable: bool
    dirlist_enable: bool
    local_root: str | None
    local_umask: int
    file_open_mode: int
    chroot_local_user: bool
    allow_writeable_chroot: bool
    chroot_list_enable: bool
    chroot_list_file: str | None
    passwd_chroot_enable: bool
    check_shell: bool
    pam_service_name: str | None
    user_sub_token: str | None
    userlist_enable: bool
    userlist_deny: bool
    userlist_file: str | None
    userlist_log: bool
    reverse_lookup_enable: bool
    session_support: bool
    anon_root: str | None
    chown_uploads: bool
    chown_username: str | None
    chown_upload_mode: int
    guest_enable: bool
    user_config_dir: str | None
    guest_username: str | None
    virtual_use_local_privs: bool
    ftp_username: str | None
    anon_upload_enable: bool
    anon_mkdir_write_enable: bool
    anon_other_write_enable: bool
    anon_world_readable_only: bool
    anon_umask: int
    anon_max_rate: int
    no_anon_password: bool
    deny_email_enable: bool
    banned_email_file: str | None
    secure_email_list_enable: bool
    email_password_file: str | None
    deny_file: str | None
    hide_file: str | None
    delete_failed_uploads: bool
    lock_upload_files: bool
    local_max_rate: int
    upload_mode: str
    ban_enable: bool
    ban_max_failures: int
    ban_window: int
    ban_time: int
    ban_allowlist: str | None


@dataclass(frozen=True)
class LogSettings:
    xferlog_enable: bool
    xferlog_std_format: bool
    xferlog_file: str
    vsftpd_log_file: str
    dual_log_enable: bool
    log_ftp_protocol: bool
    syslog_enable: bool
    use_localtime: bool
    log_format: str
    debug_ssl: bool


@dataclass(frozen=True)
class TlsSettings:
    ssl_enable: bool
    implicit_ssl: bool
    allow_anon_ssl: bool
    force_local_logins_ssl: bool
    force_local_data_ssl: bool
    force_anon_logins_ssl: bool
    force_anon_data_ssl: bool
    ssl_sslv2: bool
    ssl_sslv3: bool
    ssl_tlsv1: bool
    ssl_tlsv11: bool
    ssl_tlsv12: bool
    ssl_tlsv13: bool
    ssl_ciphers: str
    rsa_cert_file: str | None
    rsa_private_key_file: str | None
    dsa_cert_file: str | None
    dsa_private_key_file: str | None
    require_ssl_reuse: bool
    strict_ssl_read_eof: bool
    strict_ssl_write_shutdown: bool
    ssl_request_cert: bool
    require_cert: bool
    validate_cert: bool
    ca_certs_file: str | None
    ssl_sni_hostname: str | None
    debug_ssl: bool
    cert_auto_generate: bool


@dataclass(frozen=True)
class SftpSettings:
    sftp_enable: bool
    sftp_port: int
    sftp_listen_address: str | None
    sftp_host_key_file: str | None
    scp_enable: bool
    sftp_password_auth: bool
    sftp_pubkey_auth: bool
    sftp_banner: str | None
    sftp_login_grace_time: int


@dataclass(frozen=True)
class StoreSettings:
    data_dir: str
    """Absolute path of ferryd's data folder."""
    user_db: str
    """Absolute path of the SQLite user database."""
    argon2_time_cost: int
    argon2_memory_cost: int
    """KiB."""
    argon2_parallelism: int


@dataclass(frozen=True)
class Settings:
    """Everything ferryd runs with, built once from a configuration and never changed."""

    listen: ListenSettings
    ftp: FtpSettings
    data: DataChannelSettings
    access: AccessSettings
    log: LogSettings
    tls: TlsSettings
    sftp: SftpSettings
    store: StoreSettings
    """Each group attribute is named as the Group it holds (Group.DATA -> .data)."""
    notices: tuple[str, ...]
    """Things worth logging at start: options without effect, suspicious values."""
    values: Mapping[str, OptionValue]
    """Every option's effective value, by canonical name."""
    source: str
    """The configuration file path, or "<embedded>"."""


_Group = TypeVar("_Group")


def _build_group(group_class: type[_Group], group: Group,
                 values: Mapping[str, OptionValue]) -> _Group:
    return group_class(**{spec.name: values[spec.name] for spec in options_in_group(group)})


def build_settings(
    values: Mapping[str, OptionValue], *, notices: tuple[str, ...], source: str
) -> Settings:
    """Settings from every option's effective value (as from ParsedConfig.effective_values,
    with data_dir and user_db filled in)."""
    missing = set(OPTIONS) - set(values)
    if missing:
        raise ValueError(f"values lack options: {', '.join(sorted(missing))}")
    return Settings(
        listen=_build_group(ListenSettings, Group.LISTEN, values),
        ftp=_build_group(FtpSettings, Group.FTP, values),
        data=_build_group(DataChannelSettings, Group.DATA, values),
        access=_build_group(AccessSettings, Group.ACCESS, values),
        log=_build_group(LogSettings, Group.LOG, values),
        tls=_build_group(TlsSettings, Group.TLS, values),
        sftp=_build_group(SftpSettings, Group.SFTP, values),
        store=_build_group(StoreSettings, Group.STORE, values),
        notices=notices,
        values=MappingProxyType({name: values[name] for name in OPTIONS}),
        source=source,
    )


def format_effective(settings: Settings) -> str:
    """Every effective option as `name=value` lines in vsftpd syntax, sorted by name."""
    return "".join(
        f"{name}={format_value(OPTIONS[name], settings.values[name])}\n"
        for name in sorted(settings.values)
    )
