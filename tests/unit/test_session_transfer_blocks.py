"""Download and Upload serve sequential SFTP requests in blocks: the bytes are the same as
request-by-request storage calls, with far fewer storage calls, and the close hands what was
gathered to the commit (one storage call for both)."""

from __future__ import annotations

import asyncio
import os

from ferryd.audit.records import NullAuditSink
from ferryd.session.transfers import BLOCK_SIZE, Download, TransferContext, Upload

CONTEXT = TransferContext(protocol="sftp", user="u", client_address="127.0.0.1",
                          audit=NullAuditSink(), max_rate=0)
REQUEST = 32 * 1024


class MemoryReadHandle:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls = 0

    @property
    def size(self) -> int:
        return len(self.data)

    async def read_at(self, offset: int, size: int) -> bytes:
        self.calls += 1
        return self.data[offset:offset + size]

    async def close(self) -> None:
        pass


class MemoryWriteHandle:
    def __init__(self) -> None:
        self.data = bytearray()
        self.calls: list[str] = []

    @property
    def position(self) -> int:
        return len(self.data)

    async def write(self, data: bytes) -> None:
        self.calls.append("write")
        self.data += data

    async def write_at(self, offset: int, data: bytes) -> None:
        self.calls.append("write_at")
        if len(self.data) < offset:
            self.data += bytes(offset - len(self.data))
        self.data[offset:offset + len(data)] = data

    async def sync(self) -> None:
        self.calls.append("sync")

    async def truncate(self, size: int) -> None:
        self.calls.append("truncate")
        del self.data[size:]

    async def commit(self, *, tail: bytes = b"", tail_offset: int = 0) -> None:
        if tail:
            await self.write_at(tail_offset, tail)
            self.calls.pop()  # one storage call: the tail goes with the commit
        self.calls.append(f"commit tail={len(tail)}")

    async def abort(self, *, delete: bool) -> None:
        self.calls.append(f"abort delete={delete}")


def test_sequential_reads_come_from_blocks_and_match_the_file() -> None:
    content = os.urandom(3 * BLOCK_SIZE + 1234)
    handle = MemoryReadHandle(content)
    download = Download(handle, path="/f", context=CONTEXT, ascii_mode=False)  # type: ignore[arg-type]

    async def read_all() -> bytes:
        parts, offset = [], 0
        while chunk := await download.read_at(offset, REQUEST):
            parts.append(chunk)
            offset += len(chunk)
        return b"".join(parts)

    assert asyncio.run(read_all()) == content
    assert handle.calls == len(content) // BLOCK_SIZE + 1  # the end of file from memory
    assert download.bytes_transferred == len(content)


def test_a_file_that_grew_after_the_end_was_answered_is_read_again() -> None:
    handle = MemoryReadHandle(b"first")
    download = Download(handle, path="/f", context=CONTEXT, ascii_mode=False)  # type: ignore[arg-type]

    async def follow() -> list[bytes]:
        seen = [await download.read_at(0, REQUEST), await download.read_at(5, REQUEST)]
        handle.data += b"+more"
        seen.append(await download.read_at(5, REQUEST))
        return seen

    assert asyncio.run(follow()) == [b"first", b"", b"+more"]


def test_random_reads_still_answer_each_offset() -> None:
    content = os.urandom(2 * BLOCK_SIZE)
    download = Download(MemoryReadHandle(content), path="/f", context=CONTEXT,  # type: ignore[arg-type]
                        ascii_mode=False)
    for offset in (BLOCK_SIZE + 5, 3, 2 * BLOCK_SIZE - 10, 0):
        assert asyncio.run(download.read_at(offset, REQUEST)) == content[offset:offset + REQUEST]


def test_writes_are_gathered_and_the_last_block_goes_with_the_commit() -> None:
    content = os.urandom(BLOCK_SIZE + 3 * REQUEST + 7)
    handle = MemoryWriteHandle()
    upload = Upload(handle, path="/f", context=CONTEXT, ascii_mode=False,  # type: ignore[arg-type]
                    delete_on_failure=True)

    async def write_all() -> None:
        for offset in range(0, len(content), REQUEST):
            await upload.write_at(offset, content[offset:offset + REQUEST])
        assert upload.position == len(content)
        await upload.finish(complete=True)

    asyncio.run(write_all())
    assert bytes(handle.data) == content
    assert handle.calls == ["write_at", f"commit tail={3 * REQUEST + 7}"]


def test_a_small_sequential_upload_is_one_storage_call() -> None:
    handle = MemoryWriteHandle()
    upload = Upload(handle, path="/f", context=CONTEXT, ascii_mode=False,  # type: ignore[arg-type]
                    delete_on_failure=True)

    async def write_all() -> None:
        await upload.write(b"small ")
        await upload.write(b"file")
        await upload.finish(complete=True)

    asyncio.run(write_all())
    assert bytes(handle.data) == b"small file"
    assert handle.calls == ["commit tail=10"]


def test_a_gap_sync_or_truncate_stores_what_was_gathered_first() -> None:
    handle = MemoryWriteHandle()
    upload = Upload(handle, path="/f", context=CONTEXT, ascii_mode=False,  # type: ignore[arg-type]
                    delete_on_failure=False)

    async def steps() -> None:
        await upload.write_at(0, b"abc")
        await upload.write_at(10, b"xyz")  # not contiguous: "abc" is stored first
        await upload.sync()
        await upload.write_at(13, b"!")
        await upload.truncate(12)
        await upload.write_at(12, b"Z")
        await upload.finish(complete=False)  # an abort keeps what arrived (resume)

    asyncio.run(steps())
    assert bytes(handle.data) == b"abc" + bytes(7) + b"xyZ"
    assert handle.calls == ["write_at", "write_at", "sync", "write_at", "truncate", "write_at",
                            "abort delete=False"]
