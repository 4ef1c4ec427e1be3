"""Clients of every protocol for the reliability suite: ftplib over FTP, explicit and implicit
FTPS, and asyncssh's SFTP client; plus the ways a client can break (a TCP reset)."""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import hashlib
import io
import socket
import struct
from collections.abc import AsyncIterator, Iterator

import asyncssh

from tests.functional.ferryd_process import (
    ImplicitFTP_TLS,
    ReusingFTP_TLS,
    RunningFerryd,
    insecure_client_context,
)
from tests.reliability.servers import PASSWORD, USER

TIMEOUT = 30.0
FTP_PROTOCOLS = ("ftp", "ftps", "ftps-implicit")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def reset_close(sock: socket.socket) -> None:
    """Close with a TCP reset: a client that crashed or lost its network."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def ftp_login(server: RunningFerryd, protocol: str, *, timeout: float = TIMEOUT,
              user: str = USER, password: str = PASSWORD) -> ftplib.FTP:
    """A logged-in ftplib client, binary mode, data protected (PROT P) over FTPS."""
    client: ftplib.FTP
    if protocol == "ftps-implicit":
        client = ImplicitFTP_TLS(server.host, server.implicit_port)
        client.sock.settimeout(timeout)  # type: ignore[union-attr]
    elif protocol == "ftps":
        client = ReusingFTP_TLS(context=insecure_client_context())
        client.connect(server.host, server.ports["ftp"], timeout=timeout)
        client.auth()  # type: ignore[attr-defined]
    else:
        client = ftplib.FTP()
        client.connect(server.host, server.ports["ftp"], timeout=timeout)
    try:
        client.login(user, password)
        if protocol != "ftp":
            client.prot_p()  # type: ignore[attr-defined]
        client.voidcmd("TYPE I")
    except BaseException:
        client.close()
        raise
    return client


@contextlib.contextmanager
def ftp_session(server: RunningFerryd, protocol: str) -> Iterator[ftplib.FTP]:
    client = ftp_login(server, protocol)
    try:
        yield client
    finally:
        with contextlib.suppress(OSError, EOFError, ftplib.Error):
            client.quit()
        client.close()


def ftp_upload(server: RunningFerryd, protocol: str, name: str, payload: bytes) -> str:
    """Upload in one session; the final reply (226 ...)."""
    with ftp_session(server, protocol) as client:
        return client.storbinary(f"STOR {name}", io.BytesIO(payload))


def ftp_download(server: RunningFerryd, protocol: str, name: str) -> bytes:
    chunks: list[bytes] = []
    with ftp_session(server, protocol) as client:
        client.retrbinary(f"RETR {name}", chunks.append)
    return b"".join(chunks)


@contextlib.asynccontextmanager
async def ssh_connection(server: RunningFerryd, *, user: str = USER, password: str = PASSWORD,
                         timeout: float = TIMEOUT,
                         ) -> AsyncIterator[asyncssh.SSHClientConnection]:
    conn = await asyncssh.connect(
        server.host, server.ports["sftp"], username=user, password=password, known_hosts=None,
        client_keys=None, agent_path=None, config=None, login_timeout=timeout,
    )
    try:
        yield conn
    finally:
        conn.close()
        await conn.wait_closed()


async def sftp_upload(server: RunningFerryd, name: str, payload: bytes) -> None:
    async with (ssh_connection(server) as conn, conn.start_sftp_client() as sftp,
                sftp.open(name, "wb") as handle):
        await handle.write(payload)


async def sftp_download(server: RunningFerryd, name: str) -> bytes:
    async with (ssh_connection(server) as conn, conn.start_sftp_client() as sftp,
                sftp.open(name, "rb") as handle):
        return bytes(await handle.read())


def run_bounded(coroutine: object, timeout: float = 120.0) -> object:
    """Run a scenario on a fresh event loop, never longer than `timeout` seconds."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))  # type: ignore[arg-type]
