"""Errors the session layer adds to the storage ones; all protocol-neutral."""

from __future__ import annotations

from ferryd.storage.errors import StorageError


class SessionError(StorageError):
    """Base for refusals decided by the session layer rather than the storage."""


class PermissionDenied(SessionError):
    """The user's permissions (or deny_file) forbid this operation on this path."""


class InvalidPath(SessionError):
    """The path cannot be used at all (NUL byte, empty, malformed)."""
