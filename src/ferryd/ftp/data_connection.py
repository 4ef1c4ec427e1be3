"""An established data connection (plain or TLS) and the transfer loops over it."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable
from typing import TypeVar

from ferryd.storage.protocol import ReadHandle

SENDFILE_PIECE = 8 << 20  # one sendfile call per piece, so a stalled client is noticed
STREAM_LIMIT = 1 << 20

_T = TypeVar("_T")


class DataStalled(Exception):
    """No progress for data_connection_timeout seconds."""


class _FileDescriptorShim:
    """What loop.sendfile needs from a file: its descriptor, and a seek it may call."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd

    def seek(self, offset: int, whence: int = 0) -> int:
        del whence
        return offset

    def tell(self) -> int:
        return 0


class DataConnection:
    """A connected data channel; every wait is bounded by the stall timeout."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, stall_timeout: float
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._stall_timeout = stall_timeout

    @property
    def tls_object(self) -> ssl.SSLObject | None:
        obj = self._writer.get_extra_info("ssl_object")
        return obj if isinstance(obj, ssl.SSLObject) else None

    async def _bounded(self, awaitable: Awaitable[_T]) -> _T:
        try:
            async with asyncio.timeout(self._stall_timeout or None):
                return await awaitable
        except TimeoutError as exc:
            raise DataStalled(f"no progress for {self._stall_timeout} s") from exc

    async def send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._bounded(self._writer.drain())

    async def send_file(self, handle: ReadHandle, offset: int, chunk_size: int) -> int:
        """Send from offset to the end; sendfile(2) when plain and the backend allows."""
        total = 0
        fd = handle.fileno()
        transport = self._writer.transport
        if fd is not None and self.tls_object is None:
            loop = asyncio.get_running_loop()
            shim = _FileDescriptorShim(fd)
            remaining = handle.size - offset
            while remaining > 0:
                sent = await self._bounded(
                    loop.sendfile(transport, shim, offset + total,  # type: ignore[arg-type]
                                  min(SENDFILE_PIECE, remaining))
                )
                if sent == 0:
                    break
                total += sent
                remaining -= sent
            return total
        while True:
            data = await handle.read(chunk_size)
            if not data:
                return total
            await self.send(data)
            total += len(data)

    async def receive(self, size: int) -> bytes:
        return await self._bounded(self._reader.read(size))

    async def close(self) -> None:
        """Close after flushing; TLS connections send close_notify first."""
        writer = self._writer
        if writer.is_closing():
            return
        with contextlib.suppress(Exception):
            if writer.can_write_eof() and self.tls_object is None:
                writer.write_eof()
        writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await writer.wait_closed()

    def abort(self) -> None:
        self._writer.transport.abort()
