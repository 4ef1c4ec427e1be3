"""What the FTP front end receives from app.py: settings and the services it calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from ferryd.audit.records import AuditSink
from ferryd.config.settings import AccessSettings, FtpSettings, ListenSettings
from ferryd.ftp.data_channel import DataChannelRules
from ferryd.ftp.passive_ports import PassivePortPool
from ferryd.ftp.tls import TlsProvider
from ferryd.session.file_session import FileSession
from ferryd.session.login import Authenticator
from ferryd.users.model import User

# user, client address, protocol name -> the logged-in user's FileSession
SessionOpener = Callable[[User, str, str], Awaitable[FileSession]]


def command_set(text: str | None) -> frozenset[str] | None:
    """cmds_allowed / cmds_denied: `PASV,RETR,QUIT` -> {"PASV", "RETR", "QUIT"}."""
    if not text:
        return None
    return frozenset(part.strip().upper() for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class FtpServices:
    listen: ListenSettings
    ftp: FtpSettings
    access: AccessSettings
    data_rules: DataChannelRules
    authenticator: Authenticator
    open_session: SessionOpener
    audit: AuditSink
    tls: TlsProvider | None
    tls_implicit_main: bool  # implicit_ssl=YES: listen_port speaks TLS from the first byte
    force_logins_tls: bool
    allow_anonymous_tls: bool
    force_anonymous_logins_tls: bool
    force_anonymous_data_tls: bool
    force_data_tls: bool
    require_tls_reuse: bool
    strict_tls_read_eof: bool  # strict_ssl_read_eof: a TLS upload must end with close_notify
    strict_tls_write_shutdown: bool  # strict_ssl_write_shutdown: wait for the client's
    debug_tls: bool  # debug_ssl: log each TLS handshake's version, cipher and resumption
    transfer_executor: Executor  # worker threads for data connections
    passive_ports: PassivePortPool
    passive_address: Callable[[str], str | None]  # client -> address PASV announces (None: ours)
    banner: str
    commands_allowed: frozenset[str] | None  # cmds_allowed; None: every command
    commands_denied: frozenset[str]  # cmds_denied (wins over cmds_allowed)
    active_source_port_allowed: bool
