"""SessionSftpServer: asyncssh's SFTPServer, every method an async call into the session layer.

asyncssh's own SFTPServer methods touch the local disk directly and block the event loop; a
unit test checks that every public method of it is overridden here. Each method decodes the
request, calls one FileSession operation and maps the result (or the error, through
status.py's table). asyncssh's SCP server runs on this same class, so SCP gets the same
permissions, jail and transfer records.
"""

from __future__ import annotations

import copy
import errno
import os
import posixpath
import stat as stat_module
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import asyncssh

from ferryd.session.file_session import FileSession
from ferryd.session.listing import ListingStyle, long_line
from ferryd.session.paths import parent_of
from ferryd.session.transfers import Download, Upload
from ferryd.sftp.attributes import (
    session_path,
    sftp_attrs,
    sftp_name,
    vfs_attrs,
    wire_path,
)
from ferryd.sftp.connection import SftpConnection
from ferryd.sftp.status import mapped_errors
from ferryd.storage.errors import PathExists, PathNotFound, StorageError
from ferryd.storage.protocol import FileStat

if TYPE_CHECKING:
    from ferryd.sftp.services import SftpServices

READ_LIMIT = 4 * 1024 * 1024  # the read length asyncssh's limits@openssh.com reply announces


def _seek_without_holes(offset: int, whence: int, size: int) -> int:
    """For asyncssh's ranges@asyncssh.com: the whole file is data, no holes."""
    if whence == os.SEEK_DATA:
        if offset >= size:
            raise OSError(errno.ENXIO, "no data past the end")
        return offset
    if whence == os.SEEK_HOLE:
        return max(offset, size)
    return offset


class DownloadHandle:
    """What asyncssh keeps for an SFTP handle opened for reading."""

    def __init__(self, download: Download) -> None:
        self.download = download

    @property
    def path(self) -> str:
        return self.download.path

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return _seek_without_holes(offset, whence, self.download.handle.size)


class UploadHandle:
    """What asyncssh keeps for an SFTP handle opened for writing."""

    def __init__(self, upload: Upload, *, append: bool) -> None:
        self.upload = upload
        self.append = append

    @property
    def path(self) -> str:
        return self.upload.path

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return _seek_without_holes(offset, whence, self.upload.position)


OpenFile = DownloadHandle | UploadHandle


def _file(file_obj: object) -> OpenFile:
    if not isinstance(file_obj, DownloadHandle | UploadHandle):
        raise asyncssh.SFTPInvalidHandle("Invalid file handle")
    return file_obj


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


class SessionSftpServer(asyncssh.SFTPServer):
    """One SFTP (or SCP) session of a logged-in user, served by their FileSession."""

    def __init__(
        self, chan: asyncssh.SSHServerChannel[bytes], connection: SftpConnection,
        session: FileSession, listing: ListingStyle,
    ) -> None:
        super().__init__(chan)
        self._connection = connection
        self._session = session
        self._listing = listing

    @property
    def user_name(self) -> str:
        return self._session.user

    def _request(self, path: bytes | None = None) -> str:
        """Every request: note the activity (idle timeout); decode the path when there is one."""
        self._connection.touch()
        return session_path(path) if path is not None else ""

    async def _attrs(self, entry: FileStat) -> asyncssh.SFTPAttrs:
        return sftp_attrs(entry, self._listing)

    # -- names shown in listings --------------------------------------------------------
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

    # -- paths: virtual on both sides; no operating-system path ever reaches asyncssh ---
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

    # -- files ----------------------------------------------------------------------------
    async def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        """FXF_WRITE: an upload (truncating with FXF_TRUNC, appending with FXF_APPEND, else
        kept for writes at their offsets: OpenSSH's modern scp opens so, writes, then cuts
        the file with fsetstat; a resumed upload too); otherwise a download.
        The mode in `attrs` is not used: file_open_mode and the umask decide, as for FTP."""
        del attrs
        name = self._request(path)
        with mapped_errors():
            handle: OpenFile
            if pflags & asyncssh.FXF_WRITE:
                handle = await self._open_upload(name, pflags)
            else:
                handle = DownloadHandle(await self._session.open_download(name))
        self._connection.file_opened()
        return handle

    async def _open_upload(self, name: str, pflags: int) -> UploadHandle:
        existing: FileStat | None
        try:
            existing = await self._session.stat(name)
        except PathNotFound:
            existing = None
        if existing is None and not pflags & asyncssh.FXF_CREAT:
            raise PathNotFound(f"{self._session.resolve(name)}: No such file")
        exclusive = bool(pflags & asyncssh.FXF_EXCL)
        if existing is not None and exclusive:
            raise PathExists(f"{self._session.resolve(name)}: File exists")
        append = bool(pflags & asyncssh.FXF_APPEND)
        keep = not append and not pflags & asyncssh.FXF_TRUNC
        upload = await self._session.open_upload(
            name, append=append, exclusive=exclusive, keep_content=keep
        )
        return UploadHandle(upload, append=append)

    async def open56(
        self, path: bytes, desired_access: int, flags: int, attrs: asyncssh.SFTPAttrs
    ) -> object:
        """SFTP v5/v6 opens: ferryd speaks v3 (asyncssh never negotiates more here)."""
        del path, desired_access, flags, attrs
        self._request()
        raise asyncssh.SFTPOpUnsupported("SFTP v3 only")

    async def close(self, file_obj: object) -> None:
        """A close the client asked for completes the transfer; asyncssh also closes what is
        still open when the channel goes away, and then the transfer is incomplete."""
        self._request()
        handle = _file(file_obj)
        complete = not self.channel.is_closing()
        try:
            with mapped_errors():
                if isinstance(handle, DownloadHandle):
                    await handle.download.finish(complete=complete)
                else:
                    await handle.upload.finish(complete=complete)
        finally:
            self._connection.file_closed()

    async def read(self, file_obj: object, offset: int, size: int) -> bytes:
        self._request()
        handle = _file(file_obj)
        if not isinstance(handle, DownloadHandle):
            raise asyncssh.SFTPPermissionDenied("This handle was opened for writing")
        with mapped_errors():
            return await handle.download.read_at(offset, min(size, READ_LIMIT))

    async def write(self, file_obj: object, offset: int, data: bytes) -> int:
        self._request()
        handle = _file(file_obj)
        if not isinstance(handle, UploadHandle):
            raise asyncssh.SFTPPermissionDenied("This handle was opened for reading")
        with mapped_errors():
            if handle.append:
                await handle.upload.write(data)
            else:
                await handle.upload.write_at(offset, data)
        return len(data)

    async def fsync(self, file_obj: object) -> None:
        self._request()
        handle = _file(file_obj)
        if isinstance(handle, UploadHandle):
            with mapped_errors():
                await handle.upload.sync()

    # -- attributes -----------------------------------------------------------------------
    async def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        name = self._request(path)
        with mapped_errors():
            return await self._attrs(await self._session.stat(name))

    async def lstat(self, path: bytes) -> asyncssh.SFTPAttrs:
        name = self._request(path)
        with mapped_errors():
            return await self._attrs(await self._session.lstat(name))

    async def fstat(self, file_obj: object) -> asyncssh.SFTPAttrs:
        self._request()
        handle = _file(file_obj)
        with mapped_errors():
            return await self._attrs(await self._session.stat(handle.path))

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

    async def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> None:
        """On a handle open for writing, a size cuts the file there (modern scp)."""
        self._request()
        handle = _file(file_obj)
        with mapped_errors():
            if isinstance(handle, UploadHandle) and attrs.size is not None:
                await handle.upload.truncate(attrs.size)
                attrs = copy.copy(attrs)
                attrs.size = None
            await self._apply(handle.path, attrs)

    async def _apply(self, name: str, attrs: asyncssh.SFTPAttrs) -> None:
        """setstat: permissions (chmod permission, chmod_enable) and the modification time
        (set_time permission, mdtm_write). A size or owner change is refused unless it
        changes nothing; the access time has nowhere to go and is ignored."""
        session = self._session
        if attrs.size is not None or attrs.uid is not None or attrs.gid is not None:
            current = await session.stat(name)
            if attrs.size is not None and attrs.size != current.size:
                raise asyncssh.SFTPOpUnsupported("Changing a file's size is not supported")
            if (attrs.uid, attrs.gid) != (None, None) and (attrs.uid, attrs.gid) != (
                current.uid, current.gid
            ):
                raise asyncssh.SFTPPermissionDenied("Ownership cannot be changed")
        if attrs.permissions is not None:
            await session.chmod(name, stat_module.S_IMODE(attrs.permissions))
        if attrs.mtime is not None:
            await session.set_mtime(name, attrs.mtime + (attrs.mtime_ns or 0) / 1e9)

    # -- folders --------------------------------------------------------------------------
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

    # -- links ----------------------------------------------------------------------------
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

    async def lock(self, file_obj: object, offset: int, length: int, flags: int) -> None:
        del file_obj, offset, length, flags
        self._request()
        raise asyncssh.SFTPOpUnsupported("Byte range locks are not supported")

    async def unlock(self, file_obj: object, offset: int, length: int) -> None:
        del file_obj, offset, length
        self._request()
        raise asyncssh.SFTPOpUnsupported("Byte range locks are not supported")

    # -- file system ----------------------------------------------------------------------
    async def statvfs(self, path: bytes) -> asyncssh.SFTPVFSAttrs:
        name = self._request(path)
        with mapped_errors():
            return vfs_attrs(await self._session.space(name))

    async def fstatvfs(self, file_obj: object) -> asyncssh.SFTPVFSAttrs:
        self._request()
        handle = _file(file_obj)
        with mapped_errors():
            return vfs_attrs(await self._session.space(handle.path))

    async def exit(self) -> None:
        """The session ends; asyncssh has closed every open handle through close(). Exit
        status 0 as OpenSSH's sftp-server sends it (modern scp fails without one); SCP has
        sent its own by now."""
        self._connection.touch()
        if not self.channel.is_closing():
            self.channel.exit(0)


def file_server_opener(
    services: SftpServices,
) -> Callable[[asyncssh.SSHServerChannel[bytes], str], Awaitable[SessionSftpServer]]:
    """One SessionSftpServer per SFTP or SCP channel, on the user's FileSession."""

    async def open_file_server(
        chan: asyncssh.SSHServerChannel[bytes], protocol: str
    ) -> SessionSftpServer:
        owner = chan.get_connection().get_owner()
        if not isinstance(owner, SftpConnection) or owner.user is None:
            raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED,
                                            "Not logged in")
        session = await services.open_session(owner.user, owner.address, protocol)
        return SessionSftpServer(chan, owner, session, services.listing)

    return open_file_server
