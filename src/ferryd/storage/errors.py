"""Protocol-neutral storage errors; front ends map them to replies or status codes."""

from __future__ import annotations

import errno
import os


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


_ERRNO_TO_ERROR: dict[int, type[StorageError]] = {
    errno.ENOENT: PathNotFound,
    errno.EEXIST: PathExists,
    errno.ENOTDIR: NotADirectory,
    errno.EISDIR: IsADirectory,
    errno.ENOTEMPTY: DirectoryNotEmpty,
    errno.EACCES: AccessDenied,
    errno.EPERM: AccessDenied,
    errno.EROFS: AccessDenied,
    errno.ELOOP: OutsideRoot,
    errno.ENOSPC: NoSpace,
    errno.EDQUOT: NoSpace,
    errno.EFBIG: NoSpace,
    errno.EWOULDBLOCK: FileBusy,
    errno.ENAMETOOLONG: StorageIOError,
}


def storage_error_from(exc: OSError, path: str) -> StorageError:
    """The protocol-neutral error for an OSError, naming the virtual path, not the OS one."""
    kind = _ERRNO_TO_ERROR.get(exc.errno or 0, StorageIOError)
    return kind(f"{path}: {os.strerror(exc.errno or errno.EIO)}")
