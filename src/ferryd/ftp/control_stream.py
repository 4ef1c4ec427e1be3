"""The control connection's socket as an asyncio protocol that holds no task while idle.

A control connection spends nearly all its life waiting for the next command. With
StreamReader/StreamWriter that wait is a suspended task, a coroutine frame per caller up the
chain, a reader, a writer and their futures: about half of an idle session's memory. Here the
connection's driver runs only while there is work; when it has none it calls
`wait_for_bytes()` and returns, and the next bytes, the peer's EOF or a lost connection call
its `wake()`. Bytes that arrive while the driver works wait in this object, with reading
paused, until the driver asks for them (as a StreamReader's buffer would hold them).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Protocol


class Driver(Protocol):
    """What the stream calls: the FTP connection that reads and writes through it."""

    def wake(self) -> None:
        """Something to read (bytes, EOF, a lost connection) after `wait_for_bytes()`."""


class ControlStream(asyncio.Protocol):
    """Bytes in and out of one control connection, for a driver that is not always running."""

    __slots__ = (
        "_closed",
        "_eof",
        "_handshaking",
        "_lost",
        "_pending",
        "_tls_first",
        "_transport",
        "_waiting",
        "_writable",
        "_writing_paused",
        "driver",
    )

    def __init__(self, *, tls_first: bool = False) -> None:
        """`tls_first`: implicit TLS; nothing is read before start_tls(), so the client's
        first handshake bytes reach the TLS layer, not this object."""
        self._tls_first = tls_first
        self._transport: asyncio.Transport | None = None
        self.driver: Driver | None = None
        self._pending: bytes | None = None  # received while the driver works
        self._eof = False
        self._lost = False
        self._waiting = False  # the driver is idle until wake()
        self._writing_paused = False
        self._writable: asyncio.Future[None] | None = None  # drain() waiters, while paused
        self._closed: asyncio.Future[None] | None = None  # wait_closed(), while open
        self._handshaking = False  # start_tls: the transport is about to change

    @property
    def transport(self) -> asyncio.Transport:
        assert self._transport is not None, "used before connection_made"
        return self._transport

    # -- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self._tls_first:
            transport.pause_reading()  # before asyncio's first read: start_tls resumes it

    def data_received(self, data: bytes) -> None:
        self._pending = data if self._pending is None else self._pending + data
        if self._waiting:
            self._wake_driver()
        elif not self._handshaking:
            self.transport.pause_reading()  # one chunk waits; more stays in the kernel

    def eof_received(self) -> bool:
        self._eof = True
        if self._waiting:
            self._wake_driver()
        # plain TCP: stay half-open, so replies to what came before the FIN still go out (TLS
        # closes: asyncio ignores True there)
        return not self._handshaking and self.transport.get_extra_info("sslcontext") is None

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = self._eof = True
        for future in (self._writable, self._closed):
            if future is not None and not future.done():
                future.set_result(None)
        self._writable = self._closed = None
        if self._waiting:
            self._wake_driver()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # -- what the driver calls ------------------------------------------------------------
    def read_nowait(self) -> bytes | None:
        """The bytes received since the last call; b"" after EOF; None when nothing came."""
        data, self._pending = self._pending, None
        if data is None and self._eof:
            return b""
        return data

    @property
    def has_pending(self) -> bool:
        return self._pending is not None

    def wait_for_bytes(self) -> None:
        """The driver has no work: call its wake() when bytes, EOF or a loss arrive."""
        if self._pending is not None or self._eof:
            self._wake_driver()
            return
        self._waiting = True
        self.transport.resume_reading()

    def stop_waiting(self) -> None:
        """The driver runs again on its own (a timer, shutdown): no wake() needed."""
        self._waiting = False

    def _wake_driver(self) -> None:
        self._waiting = False
        assert self.driver is not None
        self.driver.wake()

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    async def drain(self) -> None:
        """Wait while the transport's write buffer is over its limit, as StreamWriter does."""
        if self._writing_paused and not self._lost:
            if self._writable is None:
                self._writable = asyncio.get_running_loop().create_future()
            # shielded: one waiter's timeout must not cancel the future the others wait for
            await asyncio.shield(self._writable)
        if self._lost:
            raise ConnectionResetError("Connection lost")

    def get_extra_info(self, name: str) -> Any:
        return self.transport.get_extra_info(name)

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """The server side of a TLS handshake; afterwards, bytes in and out are protected."""
        self._handshaking = True
        try:
            transport = await asyncio.get_running_loop().start_tls(
                self.transport, self, context, server_side=True)
        finally:
            self._handshaking = False
        if transport is None:  # closed during the handshake
            raise ConnectionResetError("closed during the TLS handshake")
        self._transport = transport

    def close(self) -> None:
        self.transport.close()

    def abort(self) -> None:
        self.transport.abort()

    async def wait_closed(self) -> None:
        if self._lost:
            return
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._closed)
