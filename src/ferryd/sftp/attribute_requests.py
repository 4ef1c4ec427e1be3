"""Paths and attributes: how names and attributes show, where a path leads, stat and setstat."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable

import asyncssh

from ferryd.session.listing import long_line
from ferryd.sftp.attributes import session_path, vfs_attrs, wire_path
from ferryd.sftp.request_base import SessionRequestBase
from ferryd.sftp.status import mapped_errors
from ferryd.storage.protocol import FileStat


class AttributeRequests(SessionRequestBase):
    """Paths, attributes and the file system's space: virtual paths on both sides, so no
    operating-system path ever reaches asyncssh."""

    async def format_user(self, uid: int | None) -> str:  # type: ignore[override]
        return "ftp" if self._listing.hide_ids else ("" if uid is None else str(uid))

    async def format_group(self, gid: int | None) -> str:  # type: ignore[override]
        return "ftp" if self._listing.hide_ids else ("" if gid is None else str(gid))

    async def format_longname(self, name: asyncssh.SFTPName) -> None:
        attrs = name.attrs
        filename = name.filename
        entry = FileStat(
            name=session_path(filename) if isinstance(filename, bytes) else filename,
            size=attrs.size or 0, mtime=float(attrs.mtime or 0),
            mode=attrs.permissions or 0, nlink=attrs.nlink or 1,
            uid=attrs.uid or 0, gid=attrs.gid or 0,
            owner=await self.format_user(attrs.uid), group=await self.format_group(attrs.gid),
        )
        name.longname = wire_path(long_line(entry, self._listing, time.time()))

    async def convert_attrs(
        self,
        result: asyncssh.SFTPAttrs | os.stat_result
        | Awaitable[asyncssh.SFTPAttrs | os.stat_result],
    ) -> asyncssh.SFTPAttrs:
        if not isinstance(result, asyncssh.SFTPAttrs | os.stat_result):
            result = await result
        if isinstance(result, os.stat_result):  # not from ferryd's methods; converted anyway
            return asyncssh.SFTPAttrs.from_local(result)
        return result

    async def map_path(self, path: bytes) -> bytes:  # type: ignore[override]
        name = self._request(path)
        with mapped_errors():
            return wire_path(self._session.resolve(name))

    async def reverse_map_path(self, path: bytes) -> bytes:  # type: ignore[override]
        self._request()
        return path

    async def realpath(self, path: bytes) -> bytes:
        name = self._request(path)
        with mapped_errors():
            return wire_path(self._session.resolve(name))

    async def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        name = self._request(path)
        with mapped_errors():
            return await self._attrs(await self._session.stat(name))

    async def lstat(self, path: bytes) -> asyncssh.SFTPAttrs:
        name = self._request(path)
        with mapped_errors():
            return await self._attrs(await self._session.lstat(name))

    async def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        name = self._request(path)
        with mapped_errors():
            await self._apply(name, attrs)

    async def lsetstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        name = self._request(path)
        with mapped_errors():
            if (await self._session.lstat(name)).is_symlink:
                raise asyncssh.SFTPOpUnsupported("Attributes of a symbolic link itself")
            await self._apply(name, attrs)

    async def statvfs(self, path: bytes) -> asyncssh.SFTPVFSAttrs:
        name = self._request(path)
        with mapped_errors():
            return vfs_attrs(await self._session.space(name))
