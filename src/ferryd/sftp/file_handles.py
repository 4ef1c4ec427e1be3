"""Open files: SFTP handles for downloads and uploads, and the requests made on them."""

from __future__ import annotations

import copy
import errno
import os

import asyncssh

from ferryd.session.transfers import Download, Upload
from ferryd.sftp.attributes import vfs_attrs
from ferryd.sftp.request_base import SessionRequestBase
from ferryd.sftp.status import mapped_errors
from ferryd.storage.errors import PathExists, PathNotFound
from ferryd.storage.protocol import FileStat

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


class FileHandleRequests(SessionRequestBase):
    """open, read, write, close and the other requests on an open file's handle."""

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
        exclusive = bool(pflags & asyncssh.FXF_EXCL)
        if exclusive or not pflags & asyncssh.FXF_CREAT:
            # whether the file exists decides (FXF_CREAT | FXF_TRUNC, what clients send for a
            # new upload, needs no look: a storage call saved per file)
            existing: FileStat | None
            try:
                existing = await self._session.stat(name)
            except PathNotFound:
                existing = None
            if existing is None and not pflags & asyncssh.FXF_CREAT:
                raise PathNotFound(f"{self._session.resolve(name)}: No such file")
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

    async def fstat(self, file_obj: object) -> asyncssh.SFTPAttrs:
        self._request()
        handle = _file(file_obj)
        with mapped_errors():
            return await self._attrs(await self._session.stat(handle.path))

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

    async def fstatvfs(self, file_obj: object) -> asyncssh.SFTPVFSAttrs:
        self._request()
        handle = _file(file_obj)
        with mapped_errors():
            return vfs_attrs(await self._session.space(handle.path))

    async def lock(self, file_obj: object, offset: int, length: int, flags: int) -> None:
        del file_obj, offset, length, flags
        self._request()
        raise asyncssh.SFTPOpUnsupported("Byte range locks are not supported")

    async def unlock(self, file_obj: object, offset: int, length: int) -> None:
        del file_obj, offset, length
        self._request()
        raise asyncssh.SFTPOpUnsupported("Byte range locks are not supported")
