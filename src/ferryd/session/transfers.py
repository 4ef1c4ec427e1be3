"""Downloads and uploads in progress: bytes counted, rate limited, recorded when done."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass

from ferryd.audit.records import AuditSink, Direction, TransferRecord
from ferryd.storage.protocol import ReadHandle, WriteHandle

# SFTP and SCP clients read and write in requests of 32-256 KiB; each storage call is a hop to
# a worker thread. Sequential requests are served from (or gathered into) blocks of this size,
# one storage call per block: 16x fewer thread hops for OpenSSH's 32 KiB requests.
BLOCK_SIZE = 512 * 1024


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
        self._ahead = b""  # the last block read, starting at _ahead_offset
        self._ahead_offset = 0
        self._ahead_reached_end = False  # the block was short: the file ended there

    async def read_at(self, offset: int, size: int) -> bytes:
        """Random access (SFTP): the bytes at `offset`, counted and rate limited. Read a block
        ahead at a time, so sequential requests mostly come from memory; the request just
        past a short block is answered "end of file" once without asking storage again (the
        next one asks, so a growing file is still followed)."""
        start = offset - self._ahead_offset
        if self._ahead_reached_end and start == len(self._ahead):
            self._ahead, self._ahead_reached_end = b"", False
            return b""
        if start < 0 or start + size > len(self._ahead):
            wanted = max(size, BLOCK_SIZE)
            self._ahead = await self.handle.read_at(offset, wanted)
            self._ahead_offset, start = offset, 0
            self._ahead_reached_end = len(self._ahead) < wanted
        data = self._ahead[start:start + size]
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
    closes its handle would otherwise get "OK" for half a file).

    SFTP's sequential write_at requests are gathered into blocks of BLOCK_SIZE and stored one
    block at a time; an error storing a block breaks the upload the same way."""

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
        self._pending: list[bytes] = []  # write_at data not yet stored, contiguous
        self._pending_offset = 0
        self._pending_size = 0

    @property
    def position(self) -> int:
        """The end of what was written so far (stored or still gathered)."""
        return max(self.handle.position, self._pending_offset + self._pending_size)

    async def _guard(self, operation: Awaitable[None]) -> None:
        try:
            await operation
        except Exception as exc:
            self._failure = self._failure or exc
            raise

    def _take_pending(self) -> tuple[int, bytes]:
        """The gathered bytes and their offset, no longer pending."""
        block = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        offset = self._pending_offset
        self._pending, self._pending_size = [], 0
        return offset, block

    async def _store_pending(self) -> None:
        if not self._pending:
            return
        offset, block = self._take_pending()
        await self._guard(self.handle.write_at(offset, block))

    async def write(self, data: bytes | memoryview) -> None:
        """Sequential (FTP): gathered like write_at's, so a small upload's bytes reach storage
        with the commit, in one storage call."""
        await self.write_at(self.position, data)

    async def write_at(self, offset: int, data: bytes | memoryview) -> None:
        """Random access (SFTP): write at `offset`, counted and rate limited; gathered into
        blocks while the requests are sequential."""
        if self._pending and offset != self._pending_offset + self._pending_size:
            await self._store_pending()
        if not self._pending:
            self._pending_offset = offset
        self._pending.append(bytes(data))
        self._pending_size += len(data)
        if self._pending_size >= BLOCK_SIZE:
            await self._store_pending()
        await self.account(len(data))

    async def sync(self) -> None:
        """Durable so far, still open (SFTP fsync)."""
        await self._store_pending()
        await self._guard(self.handle.sync())

    async def truncate(self, size: int) -> None:
        """The file cut to `size` bytes (SFTP fsetstat with a size, as modern scp sends)."""
        await self._store_pending()
        await self._guard(self.handle.truncate(size))

    async def _end(self, complete: bool) -> bool:
        """Commit with what is gathered as its tail (one storage call), or store that and
        abort (keeping a resumable partial unless delete_failed_uploads); True when
        committed."""
        if complete and self._failure is None:
            offset, tail = self._take_pending() if self._pending else (0, b"")
            try:
                await self.handle.commit(tail=tail, tail_offset=offset)
            except BaseException:
                # a tail that could not be written leaves the handle open; after a failed
                # fsync or rename it is closed already and this does nothing
                await self.handle.abort(delete=self._delete_on_failure)
                raise
            return True
        with contextlib.suppress(Exception):  # a failure is kept in self._failure
            await self._store_pending()
        await self.handle.abort(delete=self._delete_on_failure)
        return False

    async def finish(self, *, complete: bool) -> None:
        """Commit or abort. Runs to its end even when the transfer is cancelled meanwhile (a
        client that vanishes closes data and control at once), so a failed upload is always
        closed and, per delete_failed_uploads, removed."""
        ending = asyncio.ensure_future(self._end(complete))
        try:
            committed = await asyncio.shield(ending)
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                await ending  # the cancellation is re-raised below, once this is done
            self._record(False)
            raise
        except BaseException:
            self._record(False)
            raise
        self._record(committed)
        if complete and not committed and self._failure is not None:
            raise self._failure  # asked to commit a broken upload
