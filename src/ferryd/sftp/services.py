"""What the SFTP front end receives from app.py: settings and the services it calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncssh

from ferryd.session.file_session import FileSession
from ferryd.session.listing import ListingStyle
from ferryd.session.login import Authenticator
from ferryd.users.model import User

# user, client address, protocol name ("sftp" or "scp") -> the logged-in user's FileSession
SessionOpener = Callable[[User, str, str], Awaitable[FileSession]]

LOGIN_GRACE_SECONDS = 120.0  # OpenSSH's LoginGraceTime


@dataclass(frozen=True)
class SftpServices:
    listen_hosts: tuple[str, ...]
    port: int
    host_keys: Sequence[asyncssh.SSHKey]
    authenticator: Authenticator
    open_session: SessionOpener
    listing: ListingStyle  # how longnames and uid/gid show (hide_ids, text_userdb_names)
    scp_enable: bool
    password_auth: bool
    pubkey_auth: bool
    banner: str | None
    idle_timeout: float  # idle_session_timeout; 0: never
    login_grace: float = LOGIN_GRACE_SECONDS
