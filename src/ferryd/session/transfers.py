"""Downloads and uploads in progress: bytes counted, rate limited, recorded when done."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass

from ferryd.audit.records import AuditSink, Direction, TransferRecord
from ferryd.storage.protocol import ReadHandle, WriteHandle


class RateLimiter:
    """Sleeps just enough to keep a transfer under max_rate bytes/s (0 = unlimited)."""

    def __init__(self, max_rate: int) -> None:
        self._max_rate = max_rate
        self._started = time.monotonic()
        self._bytes = 0

    @property
    def limited(self) -> bool:
        return self._max_rate > 0

    @property
    def bytes_per_second(self) -> int:
        return self._max_rate

    async def account(self, size: int) -> None:
        self._bytes += size
        if not self._max_rate:
            return
        due = self._started + self._bytes / self._max_rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass(frozen=True)
class TransferContext:
    """Who moves files, over what, and where the records go."""

    protocol: str
    user: str
    client_address: str
    audit: AuditSink
    max_rate: int


class _Transfer:
    def __init__(
        self, *, path: str, direction: Direction, context: TransferContext, ascii_mode: bool
    ) -> None:
        self.path = path
        self._direction = direction
        self._context = context
        self._ascii_mode = ascii_mode
        self._started = time.monotonic()
        self.bytes_transferred = 0
        self.rate = RateLimiter(context.max_rate)
        self._recorded = False

    async def account(self, size: int) -> None:
        self.bytes_transferred += size
        await self.rate.account(size)

    def count(self, size: int) -> None:
        """Count bytes moved outside the rate limiter (unlimited direct transfers)."""
        self.bytes_transferred += size

    def _record(self, complete: bool) -> None:
        if self._recorded:
            return
        self._recorded = True
        context = self._context
        context.audit.transfer(
            TransferRecord(
                protocol=context.protocol, user=context.user,
                client_address=context.client_address,
                path=self.path, direction=self._direction,
                bytes_transferred=self.bytes_transferred,
                seconds=time.monotonic() - self._started, ascii_mode=self._ascii_mode,
                complete=complete, finished_at=time.time(),
            )
        )


class Download(_Transfer):
    """A file being sent to a client."""

    def __init__(
        self, handle: ReadHandle, *, path: str, context: TransferContext, ascii_mode: bool
    ) -> None:
        super().__init__(
            path=path, direction=Direction.DOWNLOAD, context=context, ascii_mode=ascii_mode
        )
        self.handle = handle

    async def read_at(self, offset: int, size: int) -> bytes:
        """Random access (SFTP): the bytes at `offset`, counted and rate limited."""
        data = await self.handle.read_at(offset, size)
        await self.account(len(data))
        return data

    async def finish(self, *, complete: bool) -> None:
        try:
            await self.handle.close()
        finally:
            self._record(complete)


class Upload(_Transfer):
    """A file being received; finish(complete=True) makes it durable before any ack.

    Once a write, truncate or sync has failed (a full disk, say), the upload is broken: the
    bytes on disk are not what the client sent, so finish(complete=True) aborts it and raises
    that error again rather than commit a file with a hole (an SFTP client that goes on and
    closes its handle would otherwise get "OK" for half a file)."""

    def __init__(
        self, handle: WriteHandle, *, path: str, context: TransferContext, ascii_mode: bool,
        delete_on_failure: bool,
    ) -> None:
        super().__init__(
            path=path, direction=Direction.UPLOAD, context=context, ascii_mode=ascii_mode
        )
        self.handle = handle
        self._delete_on_failure = delete_on_failure
        self._failure: Exception | None = None

    async def _guard(self, operation: Awaitable[None]) -> None:
        try:
            await operation
        except Exception as exc:
            self._failure = self._failure or exc
            raise

    async def write(self, data: bytes | memoryview) -> None:
        await self._guard(self.handle.write(data))
        await self.account(len(data))

    async def write_at(self, offset: int, data: bytes | memoryview) -> None:
        """Random access (SFTP): write at `offset`, counted and rate limited."""
        await self._guard(self.handle.write_at(offset, data))
        await self.account(len(data))

    async def sync(self) -> None:
        """Durable so far, still open (SFTP fsync)."""
        await self._guard(self.handle.sync())

    async def truncate(self, size: int) -> None:
        """The file cut to `size` bytes (SFTP fsetstat with a size, as modern scp sends)."""
        await self._guard(self.handle.truncate(size))

    async def finish(self, *, complete: bool) -> None:
        """Commit or abort. Runs to its end even when the transfer is cancelled meanwhile (a
        client that vanishes closes data and control at once), so a failed upload is always
        closed and, per delete_failed_uploads, removed."""
        failure = self._failure if complete else None  # asked to commit a broken upload
        complete = complete and self._failure is None
        ending = asyncio.ensure_future(
            self.handle.commit() if complete
            else self.handle.abort(delete=self._delete_on_failure)
        )
        try:
            await asyncio.shield(ending)
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                await ending  # the cancellation is re-raised below, once this is done
            self._record(False)
            raise
        except BaseException:
            self._record(False)
            raise
        self._record(complete)
        if failure is not None:
            raise failure
