"""Users as the rest of ferryd sees them: no password hash ever leaves a store."""

from __future__ import annotations

from dataclasses import dataclass

ANONYMOUS_NAMES = frozenset({"ftp", "anonymous"})


def is_anonymous_name(name: str) -> bool:
    """The names of anonymous FTP; vsftpd compares them case-insensitively."""
    return name.lower() in ANONYMOUS_NAMES


@dataclass(frozen=True)
class LoginOrigin:
    """Where a login comes from: the client's address and the protocol ("ftp", "sftp", ...).
    Stores that ask the system (PAM's rhost and tty) use it; others ignore it."""

    address: str
    protocol: str


@dataclass(frozen=True)
class SystemIdentity:
    """The operating-system identity a system user's session runs as (local_enable)."""

    uid: int
    gid: int
    groups: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class User:
    """One user: virtual (from ferryd's user store) or a system account.

    `home` is the absolute operating-system path of the user's root folder. `permissions` is
    reserved for per-directory permission rules and `public_keys` holds OpenSSH
    authorized_keys lines, oldest first. `created` is a Unix timestamp (seconds).
    """

    name: str
    home: str
    enabled: bool
    permissions: tuple[str, ...] = ()
    public_keys: tuple[str, ...] = ()
    created: float
    folders: tuple[str, ...] = ()
    """Shared folders mapped into the user's tree, as `/virtual=/real/path` strings."""
    system: SystemIdentity | None = None
    """Set for a system account (local_enable), and for anonymous users when ferryd runs as
    root (ftp_username's identity): the session's file work runs as this identity."""
    anonymous: bool = False
    """An anonymous login (anonymous_enable): the anon_* options apply, and a jail always."""
