"""What each SFTP request of a session starts from: the connection (activity, open files), the
user's FileSession and how listings show. The requests themselves are split by concern:
attribute_requests.py (paths and attributes), folder_requests.py (names in folders and links),
file_handles.py (open files); file_server.py puts them together as asyncssh's SFTPServer.
"""

from __future__ import annotations

import stat as stat_module

import asyncssh

from ferryd.session.file_session import FileSession
from ferryd.session.listing import ListingStyle
from ferryd.sftp.attributes import session_path, sftp_attrs
from ferryd.sftp.connection import SftpConnection
from ferryd.storage.protocol import FileStat


class SessionRequestBase(asyncssh.SFTPServer):
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
