"""Upload.finish: a broken upload (a write failed) is never committed, whoever asks."""

from __future__ import annotations

import asyncio

import pytest

from ferryd.audit.records import NullAuditSink, TransferRecord
from ferryd.session.transfers import TransferContext, Upload
from ferryd.storage.errors import NoSpace


class _Audit(NullAuditSink):
    def __init__(self) -> None:
        self.transfers: list[TransferRecord] = []

    def transfer(self, record: TransferRecord) -> None:
        self.transfers.append(record)


class _FullDisk:
    """A write handle whose disk fills after `room` bytes."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.position = 0
        self.ended: str | None = None

    async def write(self, data: bytes | memoryview) -> None:
        await self.write_at(self.position, data)

    async def write_at(self, offset: int, data: bytes | memoryview) -> None:
        if offset + len(data) > self.room:
            raise NoSpace("/f: No space left on device")
        self.position = max(self.position, offset + len(data))

    async def commit(self, *, tail: bytes = b"", tail_offset: int = 0) -> None:
        await self.write_at(tail_offset, tail)  # fails with the handle still open
        self.ended = "committed"

    async def abort(self, *, delete: bool) -> None:
        self.ended = f"aborted (delete={delete})"


def _upload(handle: _FullDisk, audit: _Audit) -> Upload:
    context = TransferContext(protocol="sftp", user="u", client_address="127.0.0.1",
                              audit=audit, max_rate=0)
    return Upload(handle, path="/f", context=context, ascii_mode=False,  # type: ignore[arg-type]
                  delete_on_failure=False)


def test_a_failed_write_makes_a_later_complete_finish_abort_and_raise() -> None:
    async def scenario() -> None:
        handle, audit = _FullDisk(room=10), _Audit()
        upload = _upload(handle, audit)
        await upload.write_at(0, b"0123456789")
        await upload.write_at(10, b"more")  # gathered: the disk's refusal comes when stored
        with pytest.raises(NoSpace):  # the client closes its handle as if all went well
            await upload.finish(complete=True)
        assert handle.ended == "aborted (delete=False)"
        assert [record.complete for record in audit.transfers] == [False]

    asyncio.run(scenario())


def test_a_failed_upload_finished_as_incomplete_does_not_raise_again() -> None:
    async def scenario() -> None:
        handle, audit = _FullDisk(room=0), _Audit()
        upload = _upload(handle, audit)
        await upload.write(b"x")  # gathered: refused when stored, by the finish
        await upload.finish(complete=False)
        assert handle.ended == "aborted (delete=False)"

    asyncio.run(scenario())


def test_an_unbroken_upload_commits() -> None:
    async def scenario() -> None:
        handle, audit = _FullDisk(room=100), _Audit()
        upload = _upload(handle, audit)
        await upload.write(b"x" * 100)
        await upload.finish(complete=True)
        assert handle.ended == "committed"
        assert [record.complete for record in audit.transfers] == [True]

    asyncio.run(scenario())
