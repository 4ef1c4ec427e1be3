"""The one table mapping protocol-neutral errors to SFTP status codes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import asyncssh

from ferryd.session.errors import InvalidPath, PermissionDenied
from ferryd.storage.errors import (
    AccessDenied,
    DirectoryNotEmpty,
    FileBusy,
    IsADirectory,
    NoSpace,
    NotADirectory,
    OutsideRoot,
    PathExists,
    PathNotFound,
    StorageError,
    StorageIOError,
)

# Order matters: the first matching class decides (session errors subclass StorageError).
# asyncssh encodes codes newer than the negotiated SFTP version as FX_FAILURE (v3 knows 0-8),
# so the finer codes reach v4-v6 clients and the text reaches everyone.
StatusFactory = Callable[[str], asyncssh.SFTPError]  # an SFTPError subclass: reason -> error

STATUS_BY_ERROR: tuple[tuple[type[StorageError], StatusFactory, str], ...] = (
    (PermissionDenied, asyncssh.SFTPPermissionDenied, "Permission denied"),
    (OutsideRoot, asyncssh.SFTPPermissionDenied, "Permission denied"),
    (AccessDenied, asyncssh.SFTPPermissionDenied, "Permission denied"),
    (InvalidPath, asyncssh.SFTPInvalidFilename, "File name not allowed"),
    (PathNotFound, asyncssh.SFTPNoSuchFile, "No such file"),
    (PathExists, asyncssh.SFTPFileAlreadyExists, "File already exists"),
    (NotADirectory, asyncssh.SFTPNotADirectory, "Not a directory"),
    (IsADirectory, asyncssh.SFTPFileIsADirectory, "Is a directory"),
    (DirectoryNotEmpty, asyncssh.SFTPDirNotEmpty, "Directory not empty"),
    (NoSpace, asyncssh.SFTPNoSpaceOnFilesystem, "No space left: the disk or quota is full"),
    (FileBusy, asyncssh.SFTPFailure, "File busy: another transfer holds it; try again later"),
    (StorageIOError, asyncssh.SFTPFailure, "I/O error"),
    (StorageError, asyncssh.SFTPFailure, "Failure"),
)


def sftp_error_for(error: StorageError) -> asyncssh.SFTPError:
    """The SFTP status (an asyncssh.SFTPError to raise) for a session or storage error.

    The reason is the error's own text when it has one: those name virtual paths only."""
    # a path that is not UTF-8 holds surrogates; the reason goes out as UTF-8 (asyncssh would
    # fail to encode it and drop the whole connection), so its bad bytes show as U+FFFD
    reason = str(error).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    for kind, status, text in STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status(reason or text)
    raise AssertionError("StorageError is the table's last row")  # pragma: no cover


@contextlib.contextmanager
def mapped_errors() -> Iterator[None]:
    """Raise session and storage errors as their SFTP status, chained to the cause."""
    try:
        yield
    except StorageError as exc:
        raise sftp_error_for(exc) from exc
