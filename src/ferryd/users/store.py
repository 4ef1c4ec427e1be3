"""The user-store protocols, their errors and the input rules every backend enforces.

`UserStore` is what logins need (reads); `UserAdmin` is what the `ferryd user` verbs need
(create, change, delete). A backend implements both. Every method is a coroutine and none may
block the event loop.
"""

from __future__ import annotations

import builtins
import os
import re
from typing import Protocol

from ferryd.users.model import LoginOrigin, User

USER_NAME_MAX_LENGTH = 64

_USER_NAME_PATTERN = re.compile(r"[A-Za-z0-9_@][A-Za-z0-9._@-]{0,63}", re.ASCII)


class UserStoreError(Exception):
    """Base of every error a user store raises."""


class UserExistsError(UserStoreError):
    """add() of a name that is already taken."""


class UnknownUserError(UserStoreError):
    """The named user does not exist."""


class InvalidUserNameError(UserStoreError, ValueError):
    """A name breaks the naming rule (see `validate_user_name`)."""


class InvalidPasswordError(UserStoreError, ValueError):
    """An empty password."""


class InvalidHomeError(UserStoreError, ValueError):
    """A home folder that is not an absolute path."""


class InvalidFolderError(UserStoreError, ValueError):
    """A shared-folder mapping that is not `/virtual=/absolute/real/path`."""


class InvalidPublicKeyError(UserStoreError, ValueError):
    """A line that is not one OpenSSH public key."""


class PublicKeyExistsError(UserStoreError):
    """add_key() of a key the user already has."""


class UnknownPublicKeyError(UserStoreError):
    """delete_key() with a fingerprint or index that matches none of the user's keys."""


class UserStoreUnavailableError(UserStoreError):
    """The backing database cannot be opened, created or understood."""


def validate_user_name(name: str) -> None:
    """Raise InvalidUserNameError unless `name` is 1-64 ASCII letters, digits, '.', '_', '-'
    or '@' and does not start with '-' or '.'."""
    if not _USER_NAME_PATTERN.fullmatch(name):
        raise InvalidUserNameError(
            f"invalid user name {name!r}: use 1-{USER_NAME_MAX_LENGTH} letters, digits,"
            " '.', '_', '-' or '@', not starting with '-' or '.'"
        )


def is_valid_user_name(name: str) -> bool:
    return _USER_NAME_PATTERN.fullmatch(name) is not None


def validate_password(password: str) -> None:
    """Raise InvalidPasswordError for an empty password. The message never holds the password."""
    if not password:
        raise InvalidPasswordError("the password must not be empty")


def validate_home(home: str) -> str:
    """Return `home` normalised, or raise InvalidHomeError unless it is an absolute path."""
    if not home or "\0" in home or not os.path.isabs(home):
        raise InvalidHomeError(f"the home folder must be an absolute path, not {home!r}")
    return os.path.normpath(home)


def parse_shared_folder(text: str) -> tuple[str, str]:
    """`/inbox=/srv/exchange/inbox` -> ("/inbox", "/srv/exchange/inbox"), normalised; raises
    InvalidFolderError with the fix."""
    virtual, separator, real = text.partition("=")
    virtual, real = virtual.strip(), real.strip()
    fix = "write /FOLDER=/REAL/PATH, e.g. /inbox=/srv/exchange/inbox"
    if not separator or not virtual.startswith("/") or "\0" in text:
        raise InvalidFolderError(f"bad shared folder {text!r}: {fix}")
    normal = os.path.normpath("/" + virtual.lstrip("/"))
    if normal == "/":
        raise InvalidFolderError(f"bad shared folder {text!r}: the root cannot be shared; {fix}")
    if not real or not os.path.isabs(real):
        raise InvalidFolderError(f"bad shared folder {text!r}: the real path must be absolute")
    return normal, os.path.normpath(real)


def format_shared_folder(virtual: str, real: str) -> str:
    return f"{virtual}={real}"


class UserStore(Protocol):
    """Reads that authentication needs."""

    async def authenticate(self, name: str, password: str,
                           origin: LoginOrigin | None = None) -> User | None:
        """The user when the name exists, the user is enabled and the password matches;
        otherwise None. Takes about the same time whichever of these fails. `origin`: where
        the login comes from, for stores that pass it on (PAM)."""
        ...

    async def get(self, name: str) -> User | None:
        """The user, enabled or not, or None when there is no such user."""
        ...


class UserAdmin(Protocol):
    """Creating, changing and deleting users."""

    async def add(self, name: str, password: str, home: str) -> User:
        """Create an enabled user. Raises InvalidUserNameError, InvalidPasswordError,
        InvalidHomeError or UserExistsError."""
        ...

    async def delete(self, name: str) -> None:
        """Remove the user and their keys (not their home folder). Raises UnknownUserError."""
        ...

    async def list(self) -> builtins.list[User]:
        """Every user, ordered by name."""
        ...

    async def set_password(self, name: str, password: str) -> None:
        """Raises InvalidPasswordError or UnknownUserError."""
        ...

    async def set_home(self, name: str, home: str) -> None:
        """Raises InvalidHomeError or UnknownUserError."""
        ...

    async def set_enabled(self, name: str, enabled: bool) -> None:
        """Raises UnknownUserError."""
        ...

    async def set_permissions(self, name: str, rules: tuple[str, ...]) -> None:
        """Replace the user's per-folder rules (`FOLDER=PERMISSIONS` strings, checked by the
        caller with policy.permissions.parse_folder_rule). Raises UnknownUserError."""
        ...

    async def set_folders(self, name: str, folders: tuple[str, ...]) -> None:
        """Replace the user's shared folders (`/virtual=/real/path`). Raises
        InvalidFolderError or UnknownUserError."""
        ...

    async def add_key(self, name: str, key_line: str) -> None:
        """Append one OpenSSH public key line (`type base64 [comment]`). Raises
        InvalidPublicKeyError, PublicKeyExistsError or UnknownUserError."""
        ...

    async def delete_key(self, name: str, fingerprint_or_index: str | int) -> None:
        """Remove one key, chosen by its SHA256 fingerprint ("SHA256:..." with or without
        the prefix) or by its 1-based position in `User.public_keys`. Raises
        UnknownPublicKeyError or UnknownUserError."""
        ...
