"""The virtual user as the rest of ferryd sees it: no password hash ever leaves the store."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class User:
    """One virtual user.

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
