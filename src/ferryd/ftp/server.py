"""FTP listeners: explicit (plain, AUTH TLS) and implicit TLS, with connection limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass

from ferryd.ftp.connection import FtpConnection
from ferryd.ftp.proto.addresses import unmapped
from ferryd.ftp.services import FtpServices
from ferryd.policy.limits import ConnectionLimiter, Refusal
from ferryd.policy.pending_logins import PendingLogins

log = logging.getLogger("ferryd.ftp")

LISTEN_BACKLOG = 1024

_REFUSALS = {
    Refusal.TOO_MANY_CLIENTS: b"421 There are too many connected users, please try later.\r\n",
    Refusal.TOO_MANY_FROM_ADDRESS: (
        b"421 There are too many connections from your internet address.\r\n"
    ),
}


@dataclass(frozen=True)
class ListenerAddress:
    kind: str  # "ftp" (explicit TLS possible) or "ftps-implicit"
    host: str
    port: int


class FtpServer:
    """Accepts control connections and runs one FtpConnection task per client."""

    def __init__(self, services: FtpServices, limiter: ConnectionLimiter) -> None:
        self._services = services
        self._limiter = limiter
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[None]] = set()
        self._pending_logins = PendingLogins(services.listen.max_pending_logins)

    def _sockets(self, port: int) -> list[socket.socket]:
        """Listening sockets for one port, as vsftpd's listen/listen_ipv6 say: listen_ipv6
        on "::" is one dual-stack socket that takes IPv4 clients too."""
        listen = self._services.listen
        if listen.listen_ipv6:
            host, family = listen.listen_address6 or "::", socket.AF_INET6
        else:
            host, family = listen.listen_address or "0.0.0.0", socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind((host, port))
            sock.listen(LISTEN_BACKLOG)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        return [sock]

    async def start(self) -> list[ListenerAddress]:
        listen = self._services.listen
        implicit_main = self._services.tls is not None and self._services.tls_implicit_main
        ports = [(listen.listen_port, implicit_main)]
        if listen.implicit_ssl_port and self._services.tls is not None:
            ports.append((listen.implicit_ssl_port, True))
        bound: list[ListenerAddress] = []
        for port, implicit in ports:
            for sock in self._sockets(port):
                server = await asyncio.start_server(
                    lambda r, w, implicit=implicit: self._accept(r, w, implicit),  # type: ignore[misc]
                    sock=sock, backlog=LISTEN_BACKLOG,  # start_server listens again (100)
                )
                self._servers.append(server)
                name = sock.getsockname()
                bound.append(
                    ListenerAddress("ftps-implicit" if implicit else "ftp", name[0], name[1])
                )
        return bound

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, implicit: bool
    ) -> None:
        for evict in self._pending_logins.overdue(asyncio.get_running_loop().time()):
            evict()  # max_pending_logins: make room before counting this one
        peer = writer.get_extra_info("peername") or ("?", 0)
        address = unmapped(str(peer[0]))
        if self._services.authenticator.is_banned(address):
            with contextlib.suppress(Exception):
                if not implicit:
                    writer.write(b"421 Too many failed logins from your address; try later.\r\n")
                    await asyncio.wait_for(writer.drain(), 5)
                writer.close()
            return
        refusal = self._limiter.admit(address)
        if refusal is not None:
            with contextlib.suppress(Exception):
                if not implicit:
                    writer.write(_REFUSALS[refusal])
                    await asyncio.wait_for(writer.drain(), 5)
                writer.close()
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # ABOR sent as urgent data (ftplib, and vsftpd's expectation): keep the urgent
            # byte in the stream, or the line loses its end and merges with the next
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE, 1)
            # replies must not wait for the client's delayed ACK of the previous one (Nagle:
            # a 150 then a 226 would cost 40 ms per transfer)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await FtpConnection(self._services, reader, writer, implicit_tls=implicit,
                                pending_logins=self._pending_logins).run()
        except Exception:
            log.exception("connection from %s ended with an internal error", address)
        finally:
            self._connections.discard(task)
            self._limiter.release(address)

    async def stop_accepting(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()

    async def close(self, grace: float) -> None:
        """Stop accepting, let connections finish for `grace` seconds, then cancel them."""
        for server in self._servers:
            server.close()
        if self._connections and grace > 0:
            await asyncio.wait(set(self._connections), timeout=grace)
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(set(self._connections), timeout=5)
        await self.stop_accepting()
