"""Protocol-neutral storage errors; front ends map them to replies or status codes."""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error a FileSystem raises."""


class PathNotFound(StorageError):
    """The path (or one of its parents) does not exist."""


class PathExists(StorageError):
    """The target already exists."""


class NotADirectory(StorageError):
    """A directory was expected."""


class IsADirectory(StorageError):
    """A file was expected."""


class DirectoryNotEmpty(StorageError):
    """rmdir on a directory that still has entries."""


class OutsideRoot(StorageError):
    """The path, after resolving symlinks, leaves the file system's root."""


class AccessDenied(StorageError):
    """The operating system refused the operation (EACCES, EPERM, EROFS)."""


class NoSpace(StorageError):
    """The disk or a quota is full (ENOSPC, EDQUOT)."""


class FileBusy(StorageError):
    """Another transfer holds a conflicting lock on the file."""


class StorageIOError(StorageError):
    """Any other I/O failure."""
