"""FileStat and SpaceInfo as SFTP attributes and names; client path bytes as session paths."""

from __future__ import annotations

import dataclasses
import stat as stat_module

import asyncssh

from ferryd.session.listing import ListingStyle, long_line
from ferryd.storage.protocol import FileStat, SpaceInfo

_TYPES: tuple[tuple[int, int], ...] = (
    (stat_module.S_IFREG, asyncssh.FILEXFER_TYPE_REGULAR),
    (stat_module.S_IFDIR, asyncssh.FILEXFER_TYPE_DIRECTORY),
    (stat_module.S_IFLNK, asyncssh.FILEXFER_TYPE_SYMLINK),
    (stat_module.S_IFSOCK, asyncssh.FILEXFER_TYPE_SOCKET),
    (stat_module.S_IFCHR, asyncssh.FILEXFER_TYPE_CHAR_DEVICE),
    (stat_module.S_IFBLK, asyncssh.FILEXFER_TYPE_BLOCK_DEVICE),
    (stat_module.S_IFIFO, asyncssh.FILEXFER_TYPE_FIFO),
)
_ST_RDONLY = 0x1  # SSH_FXE_STATVFS_ST_RDONLY


def session_path(path: bytes) -> str:
    """A client's path bytes as the session layer's text. UTF-8, as OpenSSH and every other
    client send; bytes that are not UTF-8 survive as surrogates, never as a wrong name."""
    return path.decode("utf-8", "surrogateescape")


def wire_path(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def file_type(mode: int) -> int:
    kind = stat_module.S_IFMT(mode)
    for stat_kind, sftp_kind in _TYPES:
        if kind == stat_kind:
            return sftp_kind
    return asyncssh.FILEXFER_TYPE_SPECIAL if kind else asyncssh.FILEXFER_TYPE_UNKNOWN


def sftp_attrs(entry: FileStat, style: ListingStyle) -> asyncssh.SFTPAttrs:
    """Size, permissions, times and link count; uid/gid unless hide_ids hides them (as FTP
    listings show "ftp" then). SFTP v3 has one time field each for access and change: both
    carry the modification time, the one a FileStat has."""
    seconds = int(entry.mtime)
    attrs = asyncssh.SFTPAttrs(
        type=file_type(entry.mode), size=entry.size, permissions=entry.mode,
        atime=seconds, mtime=seconds, nlink=entry.nlink,
    )
    if not style.hide_ids:
        attrs.uid, attrs.gid = entry.uid, entry.gid
        attrs.owner, attrs.group = entry.owner, entry.group
    return attrs


def sftp_name(entry: FileStat, style: ListingStyle, now: float, *, name: str | None = None,
              ) -> asyncssh.SFTPName:
    """One directory entry with its `ls -l` line, the same line FTP's LIST shows."""
    shown = entry if name is None else dataclasses.replace(entry, name=name)
    return asyncssh.SFTPName(
        filename=wire_path(shown.name), longname=wire_path(long_line(shown, style, now)),
        attrs=sftp_attrs(shown, style),
    )


def vfs_attrs(space: SpaceInfo) -> asyncssh.SFTPVFSAttrs:
    return asyncssh.SFTPVFSAttrs(
        bsize=space.block_size, frsize=space.fragment_size, blocks=space.blocks,
        bfree=space.free_blocks, bavail=space.available_blocks, files=space.files,
        ffree=space.free_files, favail=space.available_files, fsid=0,
        flags=_ST_RDONLY if space.read_only else 0, namemax=space.max_name_length,
    )
