"""SessionSftpServer: asyncssh's SFTPServer, every method an async call into the session layer.

asyncssh's own SFTPServer methods touch the local disk directly and block the event loop; a
unit test checks that every public method of it is overridden by ferryd's classes, which split
the requests by concern (request_base.py says which holds what). Each method decodes the
request, calls one FileSession operation and maps the result (or the error, through
status.py's table). asyncssh's SCP server runs on this same class, so SCP gets the same
permissions, jail and transfer records.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import asyncssh

from ferryd.sftp.attribute_requests import AttributeRequests
from ferryd.sftp.connection import SftpConnection
from ferryd.sftp.file_handles import FileHandleRequests
from ferryd.sftp.folder_requests import FolderRequests

if TYPE_CHECKING:
    from ferryd.sftp.services import SftpServices


class SessionSftpServer(FileHandleRequests, AttributeRequests, FolderRequests):
    """One SFTP (or SCP) session of a logged-in user: every asyncssh SFTPServer request,
    each concern in its own class (see request_base.py)."""

    async def exit(self) -> None:
        """The session ends; asyncssh has closed every open handle through close(). Exit
        status 0 as OpenSSH's sftp-server sends it (modern scp fails without one); SCP has
        sent its own by now."""
        self._connection.touch()
        await self._session.close()
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
