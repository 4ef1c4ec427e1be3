"""Passive data ports shared by every session: one listening socket per port.

vsftpd binds a socket per PASV, so a range of one port (the seed's pasv_min_port=30000,
pasv_max_port=30000) serves one session at a time and kills the next. Here each port has one
listener, and an incoming data connection goes to the session waiting on that port from the
same client address. Sessions from different addresses share a port freely; sessions from the
same address use different ports, or wait their turn (up to accept_timeout) when none is free.
A port nobody has reserved stays open IDLE_LISTENER_SECONDS for the next PASV, then closes.

Behind a load balancer (proxy_protocol_enable) data connections arrive from the balancer's
address. A data connection from a trusted proxy must then start with a PROXY header too, and
is matched by the client address the header names; connections from other peers are matched
by their own address as before. pasv_promiscuous=NO keeps its meaning either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
import socket

from ferryd.ftp.proto.addresses import unmapped
from ferryd.proxy.header import ProxyHeaderError, ProxyRules
from ferryd.proxy.socket_reader import read_header

log = logging.getLogger("ferryd.ftp")

BIND_ATTEMPTS = 20
# A listener nobody has reserved stays open this long for the next PASV: a session moving many
# small files reuses it instead of a new socket, bind, listen and accept task per file.
IDLE_LISTENER_SECONDS = 5.0


class PassivePortsBusy(Exception):
    """No passive port could be given to this client within the wait."""


class PassiveReservation:
    """One session's claim on a port: the next connection from its client address is its."""

    def __init__(self, listener: _SharedListener, client_address: str) -> None:
        self.listener = listener
        self.client_address = client_address
        self.connection: asyncio.Future[socket.socket] = (
            asyncio.get_running_loop().create_future()
        )
        self._released = False
        self._claimed = False

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def waiting(self) -> bool:
        return not self._released and not self.connection.done()

    async def accept(self, timeout: float) -> socket.socket:
        """The data connection; TimeoutError if the client does not come in time."""
        async with asyncio.timeout(timeout or None):
            sock = await asyncio.shield(self.connection)
        self._claimed = True
        return sock

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        if not self.connection.done():
            self.connection.cancel()
        elif not self._claimed and not self.connection.cancelled():
            self.connection.result().close()
        self.listener.remove(self)


class _SharedListener:
    def __init__(self, pool: PassivePortPool, sock: socket.socket, local: str, port: int) -> None:
        self._pool = pool
        self._sock = sock
        self.local = local
        self.port = port
        self.reservations: list[PassiveReservation] = []
        self._loop = asyncio.get_running_loop()
        self._idle_timer: asyncio.TimerHandle | None = None
        self._open = True
        self._task = asyncio.create_task(self._accept_loop(), name=f"pasv-{local}-{port}")

    def serves(self, client_address: str) -> bool:
        return any(r.client_address == client_address for r in self.reservations)

    def add(self, client_address: str) -> PassiveReservation:
        self._stop_idle_timer()
        reservation = PassiveReservation(self, client_address)
        self.reservations.append(reservation)
        return reservation

    def remove(self, reservation: PassiveReservation) -> None:
        with contextlib.suppress(ValueError):
            self.reservations.remove(reservation)
        if not self.reservations and self._idle_timer is None and self._open:
            self._idle_timer = self._loop.call_later(IDLE_LISTENER_SECONDS, self._close_if_idle)
        self._pool.changed()

    def _stop_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _close_if_idle(self) -> None:
        self._idle_timer = None
        if not self.reservations:
            self.close()

    def close(self) -> None:
        self._stop_idle_timer()
        if not self._open:
            return
        self._open = False
        self._pool.forget(self)
        if self._task.done():
            self._closed()
            return
        # Close only once the accept loop has unregistered the socket from the event loop:
        # closing first frees the descriptor number while the selector still has it, and
        # the next socket to get that number fails with ENOENT from epoll_ctl.
        self._task.cancel()
        self._task.add_done_callback(lambda _task: self._closed())

    def _closed(self) -> None:
        self._sock.close()
        self._pool.changed()  # a single-port range can be bound again now

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, peer = await loop.sock_accept(self._sock)
            except OSError as exc:
                if self._sock.fileno() < 0:
                    return
                log.info("passive port %s: accept failed: %s", self.port, exc)
                await asyncio.sleep(0.1)
                continue
            address = unmapped(str(peer[0]))
            proxy = self._pool.proxy
            if proxy is not None and proxy.trusts(address):
                self._pool.track(asyncio.create_task(self._deliver_proxied(conn, address)))
            else:
                self._deliver(conn, address)

    async def _deliver_proxied(self, conn: socket.socket, proxy_address: str) -> None:
        proxy = self._pool.proxy
        assert proxy is not None
        try:
            header = await read_header(conn, proxy.timeout)
        except (ProxyHeaderError, TimeoutError, OSError) as exc:
            reason = "no PROXY header in time" if isinstance(exc, TimeoutError) else exc
            log.info("passive port %s: data connection from trusted proxy %s closed: %s",
                     self.port, proxy_address, reason)
            conn.close()
            return
        except BaseException:
            conn.close()
            raise
        client = unmapped(header.source[0]) if header.source is not None else proxy_address
        self._deliver(conn, client)

    def _deliver(self, conn: socket.socket, address: str) -> None:
        promiscuous = self._pool.promiscuous
        for reservation in self.reservations:
            if reservation.waiting and (promiscuous or reservation.client_address == address):
                reservation.connection.set_result(conn)
                return
        conn.close()  # nobody waits for this address here: a stranger, or a late client


class PassivePortPool:
    """All passive listeners of one server."""

    def __init__(
        self, low: int, high: int, *, promiscuous: bool, proxy: ProxyRules | None = None
    ) -> None:
        self._low = low
        self._high = high
        self.promiscuous = promiscuous
        self.proxy = proxy
        self._header_reads: set[asyncio.Task[None]] = set()
        self._listeners: dict[tuple[str, int], _SharedListener] = {}
        self._changed: asyncio.Event | None = None

    def matches(
        self, low: int, high: int, promiscuous: bool, proxy: ProxyRules | None
    ) -> bool:
        """Whether this pool already is the one those settings ask for (a reload keeps it)."""
        return (self._low, self._high, self.promiscuous, self.proxy) == (
            low, high, promiscuous, proxy
        )

    def changed(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def track(self, task: asyncio.Task[None]) -> None:
        """A PROXY header being read off a data connection (cancelled by close())."""
        self._header_reads.add(task)
        task.add_done_callback(self._header_reads.discard)

    def forget(self, listener: _SharedListener) -> None:
        if self._listeners.get((listener.local, listener.port)) is listener:
            del self._listeners[(listener.local, listener.port)]

    async def reserve(self, local: str, client_address: str, wait: float) -> PassiveReservation:
        """A port for this client: a shared one, a newly bound one, or the next to free up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (wait or 0)
        while True:
            reservation = self._try_reserve(local, client_address)
            if reservation is not None:
                return reservation
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise PassivePortsBusy(
                    f"all passive ports {self._low}-{self._high} are in use by this address; "
                    "try again, or widen pasv_min_port/pasv_max_port"
                )
            self._changed = self._changed or asyncio.Event()
            event = self._changed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await event.wait()
            event.clear()

    def _try_reserve(self, local: str, client_address: str) -> PassiveReservation | None:
        shared = [
            listener for (host, _port), listener in self._listeners.items()
            if host == local and not listener.serves(client_address)
        ]
        if shared:
            return random.choice(shared).add(client_address)
        listener = self._bind_new(local)
        return listener.add(client_address) if listener is not None else None

    def _bind_new(self, local: str) -> _SharedListener | None:
        taken = {port for host, port in self._listeners if host == local}
        family = socket.AF_INET6 if ":" in local else socket.AF_INET
        for port in self._candidate_ports(taken):
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((local, port))
                sock.listen(128)
            except OSError as exc:
                sock.close()
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue
                raise
            sock.setblocking(False)
            listener = _SharedListener(self, sock, local, port)
            self._listeners[(local, port)] = listener
            return listener
        return None

    def _candidate_ports(self, taken: set[int]) -> list[int]:
        """Up to BIND_ATTEMPTS random ports of the range that no listener of ours holds."""
        size = self._high - self._low + 1
        if size <= 4 * BIND_ATTEMPTS:
            free = [port for port in range(self._low, self._high + 1) if port not in taken]
            return random.sample(free, min(len(free), BIND_ATTEMPTS))
        picks = {random.randint(self._low, self._high) for _ in range(BIND_ATTEMPTS)}
        return [port for port in picks if port not in taken]

    def close(self) -> None:
        for task in list(self._header_reads):
            task.cancel()
        for listener in list(self._listeners.values()):
            listener.close()
