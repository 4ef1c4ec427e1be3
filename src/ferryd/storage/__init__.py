"""Storage backends behind one async FileSystem protocol; only here do OS paths exist."""

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
from ferryd.storage.protocol import Capability, FileStat, FileSystem, ReadHandle, WriteHandle

__all__ = [
    "AccessDenied",
    "Capability",
    "DirectoryNotEmpty",
    "FileBusy",
    "FileStat",
    "FileSystem",
    "IsADirectory",
    "NoSpace",
    "NotADirectory",
    "OutsideRoot",
    "PathExists",
    "PathNotFound",
    "ReadHandle",
    "StorageError",
    "StorageIOError",
    "WriteHandle",
]
