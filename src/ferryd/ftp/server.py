"""FTP listeners: explicit (plain, AUTH TLS) and implicit TLS, with connection limits.

With proxy_protocol_enable, a connection from a trusted balancer must start with a PROXY
header, read from the raw socket before anything else (the ban check, the limits, the banner,
an implicit TLS handshake): from then on the connection is the header's client everywhere.
Peers that are not trusted are served as themselves; a header from one closes its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from ferryd.ftp.connection import ClientEndpoints, FtpConnection
from ferryd.ftp.control_stream import ControlStream
from ferryd.ftp.idle_deadlines import IdleDeadlines
from ferryd.ftp.proto.addresses import unmapped
from ferryd.ftp.services import FtpServices
from ferryd.policy.limits import ConnectionLimiter, Refusal
from ferryd.policy.pending_logins import PendingLogins
from ferryd.proxy.header import ClosedBeforeHeader, ProxyHeaderError
from ferryd.proxy.socket_reader import read_header, starts_with_header

log = logging.getLogger("ferryd.ftp")

LISTEN_BACKLOG = 1024

_REFUSALS = {
    Refusal.TOO_MANY_CLIENTS: b"421 There are too many connected users, please try later.\r\n",
    Refusal.TOO_MANY_FROM_ADDRESS: (
        b"421 There are too many connections from your internet address.\r\n"
    ),
}


class _AcceptedStream(ControlStream):
    """A ControlStream that hands itself to the server once its socket is connected."""

    __slots__ = ("_accepted",)

    def __init__(self, accepted: Callable[[ControlStream], None], *, tls_first: bool) -> None:
        super().__init__(tls_first=tls_first)
        self._accepted: Callable[[ControlStream], None] | None = accepted

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        accepted, self._accepted = self._accepted, None  # not kept for the session's life
        if accepted is not None:
            accepted(self)


def _same_if_equal(text: str, held: str) -> str:
    """`held` when equal: an idle session keeps one copy of its client's address, not two."""
    return held if text == held else text


def _refuse(stream: ControlStream, reply: bytes | None) -> None:
    """Close a connection that is not admitted, with its 421 unless it speaks TLS first."""
    if reply is not None:
        stream.write(reply)
    stream.close()  # the transport sends what it holds before it closes


@dataclass(frozen=True)
class ListenerAddress:
    kind: str  # "ftp" (explicit TLS possible) or "ftps-implicit"
    host: str
    port: int


class FtpServer:
    """Accepts control connections and drives one FtpConnection per client."""

    def __init__(
        self, services: FtpServices, limiter: ConnectionLimiter,
        pending_logins: PendingLogins | None = None,
    ) -> None:
        """`pending_logins`: max_pending_logins' bookkeeping, shared with SFTP."""
        self._services = services
        self._limiter = limiter
        self._servers: list[asyncio.Server] = []
        # with the PROXY protocol: our own accept loops, one per listening socket
        self._own_listeners: list[tuple[socket.socket, asyncio.Task[None]]] = []
        # PROXY-protocol connections still waiting for their header
        self._connections: set[asyncio.Task[None]] = set()
        self._sessions: set[FtpConnection] = set()
        self._idle_deadlines = IdleDeadlines()
        self._pending_logins = (  # an empty PendingLogins is falsy: compare with None
            PendingLogins(services.listen.max_pending_logins) if pending_logins is None
            else pending_logins
        )

    def use_services(self, services: FtpServices) -> None:
        """A reloaded configuration (SIGHUP): connections from now on use `services`; open
        ones keep theirs. The listening sockets stay as started."""
        self._services = services

    def _close_own_listeners(self) -> None:
        """Close the PROXY-protocol listeners once their accept loops let go of them (closing
        first would free a descriptor number the selector still watches)."""
        for sock, task in self._own_listeners:
            task.cancel()
            task.add_done_callback(lambda _task, sock=sock: sock.close())  # type: ignore[misc]
        self._own_listeners.clear()

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
                if self._services.proxy is None:
                    server = await asyncio.get_running_loop().create_server(
                        lambda implicit=implicit: _AcceptedStream(  # type: ignore[misc]
                            lambda stream: self._accept(stream, implicit), tls_first=implicit),
                        sock=sock, backlog=LISTEN_BACKLOG,  # create_server listens again (100)
                    )
                    self._servers.append(server)
                else:
                    # Our own accept loop: asyncio's server would start reading the socket
                    # at once, and bytes past the PROXY header must stay in the kernel
                    self._own_listeners.append((sock, asyncio.create_task(
                        self._accept_loop(sock, implicit), name=f"ftp-accept-{port}")))
                name = sock.getsockname()
                bound.append(
                    ListenerAddress("ftps-implicit" if implicit else "ftp", name[0], name[1])
                )
        return bound

    async def _accept_loop(self, sock: socket.socket, implicit: bool) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _peer = await loop.sock_accept(sock)
            except OSError as exc:
                if sock.fileno() < 0:
                    return
                log.info("accepting a control connection failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            task = asyncio.create_task(self._accept_proxied(conn, implicit))
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)

    async def _accept_proxied(self, conn: socket.socket, implicit: bool) -> None:
        """The PROXY header first (trusted peers), then the usual admission and session."""
        try:
            endpoints = await self._endpoints_of(conn, implicit)
        except BaseException:
            conn.close()  # cancelled (shutdown) while waiting for the header
            raise
        if endpoints is None:
            conn.close()
            return
        stream = ControlStream(tls_first=implicit)
        try:
            await asyncio.get_running_loop().connect_accepted_socket(lambda: stream, sock=conn)
        except OSError:
            conn.close()
            return
        self._admit(stream, implicit, endpoints, refuse_proxy_header=endpoints.via is None)

    async def _endpoints_of(self, conn: socket.socket, implicit: bool) -> ClientEndpoints | None:
        """Who this connection is for: the PROXY header's client (trusted peers), else the
        peer itself; None when it must be closed."""
        proxy = self._services.proxy
        assert proxy is not None
        try:
            peer = unmapped(str(conn.getpeername()[0]))
            local = str(conn.getsockname()[0])
        except OSError:
            return None
        if not proxy.trusts(peer):
            if implicit and await starts_with_header(conn, proxy.timeout):
                log.info("control connection from %s closed: it sent a PROXY header but is "
                         "not in proxy_protocol_trusted", peer)
                return None
            return ClientEndpoints(address=peer, local=local, front=local)
        try:
            header = await read_header(conn, proxy.timeout)
        except (ProxyHeaderError, TimeoutError, OSError) as exc:
            reason = "no PROXY header in time" if isinstance(exc, TimeoutError) else exc
            # a health check that connects and closes is not worth a line each time
            level = logging.DEBUG if isinstance(exc, ClosedBeforeHeader) else logging.INFO
            log.log(level, "control connection from trusted proxy %s closed: %s", peer, reason)
            return None
        if header.source is None or header.destination is None:  # LOCAL, UNKNOWN
            return ClientEndpoints(address=peer, local=local, front=local)
        return ClientEndpoints(address=unmapped(header.source[0]), local=local,
                               front=header.destination[0], via=peer)

    def _accept(self, stream: ControlStream, implicit: bool) -> None:
        for evict in self._pending_logins.overdue(asyncio.get_running_loop().time()):
            evict()  # max_pending_logins: make room before counting this one
        peer = stream.get_extra_info("peername") or ("?", 0)
        local = stream.get_extra_info("sockname") or ("0.0.0.0", 0)
        address = _same_if_equal(unmapped(str(peer[0])), str(peer[0]))
        endpoints = ClientEndpoints(address=address, local=str(local[0]), front=str(local[0]))
        self._admit(stream, implicit, endpoints, refuse_proxy_header=False)

    def _admit(
        self, stream: ControlStream, implicit: bool, endpoints: ClientEndpoints, *,
        refuse_proxy_header: bool,
    ) -> None:
        address = endpoints.address
        if self._services.authenticator.is_banned(address):
            _refuse(stream, None if implicit else
                    b"421 Too many failed logins from your address; try later.\r\n")
            return
        refusal = self._limiter.admit(address)
        if refusal is not None:
            if endpoints.via is not None:
                log.info("connection from %s (via proxy %s) refused: %s", address,
                         endpoints.via, refusal.value)
            _refuse(stream, None if implicit else _REFUSALS[refusal])
            return
        sock = stream.get_extra_info("socket")
        if sock is not None:
            # ABOR sent as urgent data (ftplib, and vsftpd's expectation): keep the urgent
            # byte in the stream, or the line loses its end and merges with the next
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE, 1)
            # replies must not wait for the client's delayed ACK of the previous one (Nagle:
            # a 150 then a 226 would cost 40 ms per transfer)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = FtpConnection(
            self._services, stream, implicit_tls=implicit, endpoints=endpoints,
            refuse_proxy_header=refuse_proxy_header, pending_logins=self._pending_logins,
            on_finished=self._finished, idle_deadlines=self._idle_deadlines,
        )
        self._sessions.add(connection)
        connection.start()

    def _finished(self, connection: FtpConnection) -> None:
        self._sessions.discard(connection)
        self._limiter.release(connection.peer_address)

    async def stop_accepting(self) -> None:
        self._close_own_listeners()
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()

    async def close(self, grace: float) -> None:
        """Stop accepting; idle connections end now, running transfers may finish for `grace`
        seconds; then every connection is closed."""
        self._close_own_listeners()
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        running = {connection.transfer_task for connection in self._sessions
                   if connection.transfer_task is not None}
        for connection in list(self._sessions):
            if connection.transfer_task is None:
                connection.stop()
        if running and grace > 0:
            await asyncio.wait(running, timeout=grace)
        for connection in list(self._sessions):
            connection.stop()
        ending = set(self._connections) | {
            connection.driver_task for connection in self._sessions
            if connection.driver_task is not None}
        if ending:
            await asyncio.wait(ending, timeout=5)
        self._idle_deadlines.close()
        await self.stop_accepting()
