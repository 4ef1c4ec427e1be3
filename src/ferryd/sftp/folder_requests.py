"""Names in folders: listings, making and removing folders and files, renames, links."""

from __future__ import annotations

import posixpath
import time
from collections.abc import AsyncIterator

import asyncssh

from ferryd.session.paths import parent_of
from ferryd.sftp.attributes import session_path, sftp_name, wire_path
from ferryd.sftp.request_base import SessionRequestBase
from ferryd.sftp.status import mapped_errors
from ferryd.storage.errors import PathNotFound, StorageError


def _link_leaves_root(link_path: str, target: str) -> bool:
    """Whether a relative link target climbs above "/" from the link's folder."""
    depth = len([part for part in parent_of(link_path).split("/") if part])
    for part in target.split("/"):
        if part in ("", "."):
            continue
        depth = depth - 1 if part == ".." else depth + 1
        if depth < 0:
            return True
    return False


class FolderRequests(SessionRequestBase):
    """Listings, mkdir, rmdir, remove, the two renames, and links (read, never made)."""

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        """The listing, "." and ".." first as OpenSSH's server sends them. asyncssh starts
        this generator at the first READDIR, so a refusal reaches the client there."""
        name = self._request(path)
        with mapped_errors():
            folder, entries = await self._session.list_dir(name)
            here = await self._session.stat(folder)
            if not here.is_dir:
                raise asyncssh.SFTPNoSuchPath(f"{folder}: Not a directory")
            try:
                above = await self._session.stat(parent_of(folder))
            except StorageError:
                above = here
        now = time.time()
        yield sftp_name(here, self._listing, now, name=".")
        yield sftp_name(above, self._listing, now, name="..")
        for entry in sorted(entries, key=lambda item: item.name):
            self._connection.touch()
            yield sftp_name(entry, self._listing, now)

    async def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        """The mode in `attrs` is not used: the umask decides, as for FTP's MKD."""
        del attrs
        name = self._request(path)
        with mapped_errors():
            await self._session.make_dir(name)

    async def rmdir(self, path: bytes) -> None:
        name = self._request(path)
        with mapped_errors():
            await self._session.remove_dir(name)

    async def remove(self, path: bytes) -> None:
        name = self._request(path)
        with mapped_errors():
            await self._session.delete(name)

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        """SFTP v3 rename never replaces an existing target (posix-rename does)."""
        source, target = self._request(oldpath), session_path(newpath)
        with mapped_errors():
            try:
                await self._session.lstat(target)
            except PathNotFound:
                pass
            else:
                raise asyncssh.SFTPFileAlreadyExists(f"{self._session.resolve(target)}: exists")
            await self._session.rename(source, target)

    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        source, target = self._request(oldpath), session_path(newpath)
        with mapped_errors():
            await self._session.rename(source, target)

    async def readlink(self, path: bytes) -> bytes:
        """A relative target that stays inside the user's root, as stored; anything that
        would show an operating-system path or leave the root is refused."""
        name = self._request(path)
        with mapped_errors():
            entry = await self._session.lstat(name)
        target = entry.link_target
        if target is None:
            raise asyncssh.SFTPInvalidParameter("Not a symbolic link")
        link_path = self._session.resolve(name)
        if posixpath.isabs(target) or _link_leaves_root(link_path, target):
            raise asyncssh.SFTPPermissionDenied("The link points outside this user's folder")
        return wire_path(target)

    async def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        del oldpath, newpath
        self._request()
        raise asyncssh.SFTPOpUnsupported("ferryd does not create symbolic links")

    async def link(self, oldpath: bytes, newpath: bytes) -> None:
        del oldpath, newpath
        self._request()
        raise asyncssh.SFTPOpUnsupported("ferryd does not create hard links")
