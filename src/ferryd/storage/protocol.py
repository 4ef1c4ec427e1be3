"""The FileSystem protocol: what the session layer may ask of a storage backend.

Paths are virtual: absolute POSIX strings ("/inbox/a.csv") relative to the backend's root.
No code above this package sees an operating-system path.
"""

from __future__ import annotations

import enum
import stat as stat_module
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class Capability(enum.Enum):
    """Optional abilities a backend may offer; callers check before relying on one."""

    SENDFILE = "sendfile"  # ReadHandle.fileno() returns a descriptor usable with sendfile(2)
    HARDLINK = "hardlink"
    ATOMIC_RENAME = "atomic_rename"
    POSIX_PERMISSIONS = "posix_permissions"


@dataclass(frozen=True, slots=True)
class FileStat:
    """One directory entry's metadata."""

    name: str
    size: int
    mtime: float
    mode: int
    nlink: int
    uid: int
    gid: int
    owner: str
    group: str
    link_target: str | None = None

    @property
    def is_dir(self) -> bool:
        return stat_module.S_ISDIR(self.mode)

    @property
    def is_file(self) -> bool:
        return stat_module.S_ISREG(self.mode)

    @property
    def is_symlink(self) -> bool:
        return stat_module.S_ISLNK(self.mode)


@dataclass(frozen=True, slots=True)
class SpaceInfo:
    """statvfs(3)'s numbers for the file system holding a path."""

    block_size: int
    fragment_size: int
    blocks: int
    free_blocks: int
    available_blocks: int
    files: int
    free_files: int
    available_files: int
    read_only: bool
    max_name_length: int


class ReadHandle(Protocol):
    """An open file being downloaded."""

    @property
    def size(self) -> int: ...

    async def read(self, size: int) -> bytes: ...

    async def read_at(self, offset: int, size: int) -> bytes:
        """Up to `size` bytes from `offset` (b"" at the end), leaving read()'s position alone:
        SFTP names an offset in every read."""

    def fileno(self) -> int | None:
        """A descriptor for sendfile(2), or None when the backend has none."""

    def preloaded(self, offset: int, size: int) -> bytes | None:
        """The bytes read_at(offset, size) would return, when the open already read them (a
        small file is read whole with its open: one storage call for all of it); None when
        only read_at can tell. No storage call."""

    async def close(self) -> None: ...


class WriteHandle(Protocol):
    """An open file being uploaded; nothing is acknowledged before commit()."""

    @property
    def position(self) -> int: ...

    async def write(self, data: bytes | memoryview) -> None: ...

    async def write_at(self, offset: int, data: bytes | memoryview) -> None:
        """Write at `offset` (SFTP names one in every write); position becomes the end of the
        furthest write. A backend that can only append raises StorageIOError out of order."""

    async def sync(self) -> None:
        """Make what was written so far durable without closing (SFTP's fsync extension)."""

    async def truncate(self, size: int) -> None:
        """Cut (or extend with zeros) the file to `size` bytes (SFTP's fsetstat size)."""

    def fileno(self) -> int | None:
        """A descriptor a worker thread may write to directly, or None. After writing through
        it, call advance() with the byte count."""

    def advance(self, size: int) -> None:
        """Account for `size` bytes written through fileno()."""

    async def commit(self, *, tail: bytes = b"", tail_offset: int = 0) -> None:
        """Write `tail` at `tail_offset` (the last bytes, gathered by the caller: one storage
        call for them and the commit), then make the data durable (fsync) and visible under
        its final name. If `tail` cannot be written the handle stays open: abort() it."""

    async def abort(self, *, delete: bool) -> None:
        """Stop writing; remove what was written when delete is true."""


class FileSystem(Protocol):
    """A user's tree of files. Every method may be called concurrently."""

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    async def stat(self, path: str) -> FileStat: ...

    async def lstat(self, path: str) -> FileStat: ...

    async def list_dir(self, path: str) -> Sequence[FileStat]: ...

    async def open_read(self, path: str, offset: int = 0) -> ReadHandle: ...

    async def open_write(
        self, path: str, *, offset: int = 0, append: bool = False, mode: int = 0o666,
        exclusive: bool = False, truncate: bool = True, atomic: bool = False,
    ) -> WriteHandle:
        """Open for writing at `offset`; the content past it is cut unless truncate=False
        (SFTP opens without FXF_TRUNC: writes land at their offsets over what is there).
        atomic=True (a whole new file: offset 0, truncating, not appending): nothing is
        visible under `path` until commit(), which replaces the target in one step."""

    async def mkdir(self, path: str, mode: int = 0o777) -> None: ...

    async def rmdir(self, path: str) -> None: ...

    async def remove(self, path: str) -> None: ...

    async def rename(self, source: str, target: str) -> None: ...

    async def chmod(self, path: str, mode: int) -> None: ...

    async def set_mtime(self, path: str, mtime: float) -> None: ...

    async def space(self, path: str) -> SpaceInfo:
        """Size and free space of the file system holding `path` (SFTP's statvfs)."""

    async def close(self) -> None:
        """The session is over: release what the backend holds for it."""
