"""What runs on an SSH session channel: SFTP, SCP, or a refusal.

ferryd routes channels itself (SftpConnection.session_requested returns a RoutedSession)
rather than through asyncssh's sftp_factory, so that the SFTP packet handler can be asyncssh's
with three additions (SessionSftpHandler):
- WRITE packets with bytes after the data are accepted, as OpenSSH's sftp-server accepts them:
  the Go sftp library (rclone) pads short writes to its buffer size;
- expand-path@openssh.com (`~` and relative paths resolved by the server, for clients that ask);
- home-directory (the user's root, "/").
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import cast

import asyncssh
from asyncssh.constants import FXP_NAME, FXP_WRITE
from asyncssh.packet import SSHPacket
from asyncssh.scp import run_scp_server
from asyncssh.sftp import SFTPServerHandler
from asyncssh.stream import SSHServerStreamSession

from ferryd.sftp.file_server import SessionSftpServer

SFTP_VERSION = 3  # what ferryd speaks (asyncssh's v4-v6 paths are not wired to the session)

FileServerOpener = Callable[["asyncssh.SSHServerChannel[bytes]", str],
                            Awaitable[SessionSftpServer]]


class SessionSftpHandler(SFTPServerHandler):
    """asyncssh's SFTP server handler plus expand-path, home-directory and padded writes."""

    _server: SessionSftpServer

    async def _process_write_padded(self, packet: SSHPacket) -> int:
        """asyncssh's WRITE, without its end-of-packet check (the Go sftp library pads)."""
        handle = packet.get_string()
        offset = packet.get_uint64()
        data = packet.get_string()
        file_obj = self._file_handles.get(handle)
        if not file_obj:
            raise asyncssh.SFTPInvalidHandle("Invalid file handle")
        return await self._server.write(file_obj, offset, data)

    async def _process_expand_path(self, packet: SSHPacket) -> tuple[list[asyncssh.SFTPName],
                                                                     bool]:
        path = packet.get_string()
        packet.check_end()
        return [asyncssh.SFTPName(await self._server.realpath(path))], False

    async def _process_home_directory(self, packet: SSHPacket) -> tuple[
            list[asyncssh.SFTPName], bool]:
        name = packet.get_string().decode("utf-8", "replace")
        packet.check_end()
        if name not in ("", self._server.user_name):
            raise asyncssh.SFTPNoSuchFile(f"{name}: no such user here")
        return [asyncssh.SFTPName(b"/")], False

    # asyncssh's class-level tables, extended: built once here and only ever read (RUF012).
    _packet_handlers = {  # noqa: RUF012
        **SFTPServerHandler._packet_handlers,
        FXP_WRITE: _process_write_padded,  # type: ignore[dict-item]
        b"expand-path@openssh.com": _process_expand_path,  # type: ignore[dict-item]
        b"home-directory": _process_home_directory,  # type: ignore[dict-item]
    }
    _return_types = {  # noqa: RUF012
        **SFTPServerHandler._return_types,
        b"expand-path@openssh.com": FXP_NAME,
        b"home-directory": FXP_NAME,
    }
    _extensions = [  # noqa: RUF012
        *SFTPServerHandler._extensions,
        (b"expand-path@openssh.com", b"1"),
        (b"home-directory", b"1"),
    ]


class ChannelRouter:
    """asyncssh's session_factory: each session channel to SFTP, SCP or a refusal."""

    def __init__(self, open_file_server: FileServerOpener, *, scp_enable: bool) -> None:
        self._open = open_file_server
        self._scp_enable = scp_enable

    async def __call__(
        self, stdin: asyncssh.SSHReader[bytes], stdout: asyncssh.SSHWriter[bytes],
        stderr: asyncssh.SSHWriter[bytes],
    ) -> None:
        channel = cast("asyncssh.SSHServerChannel[bytes]", stdout.channel)
        command = channel.get_command() or ""
        subsystem = channel.get_subsystem() or ""
        if subsystem == "sftp":
            server = await self._open(channel, "sftp")
            await SessionSftpHandler(server, stdin, stdout, SFTP_VERSION).run()
        elif command.startswith("scp ") and self._scp_enable:
            server = await self._open(channel, "scp")
            result = run_scp_server(server, command, stdin, stdout, stderr)
            if inspect.isawaitable(result):
                await result
        elif command.startswith("scp "):
            # an SCP fatal error (\x02) on stdout: scp clients (curl's too) fail with the text
            stdout.write(b"\x02scp: scp is disabled on this server (scp_enable=NO); use sftp.\n")
            channel.exit(1)
        else:
            stderr.write(b"This server offers file transfer only (SFTP and SCP): no shell or "
                         b"commands.\r\n")
            channel.exit(1)


class RoutedSession(SSHServerStreamSession[bytes]):
    """asyncssh's stream session with every request going to the ChannelRouter: the "sftp"
    subsystem (asyncssh would want an sftp_factory for it), `scp ...` commands, and the
    shells and other commands the router refuses with a message."""

    def __init__(self, router: ChannelRouter) -> None:
        super().__init__(router)
        self._router = router

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        del command
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        return subsystem == "sftp"

    def session_started(self) -> None:
        chan = self._chan
        connection = self._conn
        assert chan is not None and connection is not None
        stdin = asyncssh.SSHReader[bytes](self, chan)
        stdout = asyncssh.SSHWriter[bytes](self, chan)
        stderr = asyncssh.SSHWriter[bytes](self, chan, asyncssh.EXTENDED_DATA_STDERR)
        connection.create_task(self._router(stdin, stdout, stderr), stdin.logger)
