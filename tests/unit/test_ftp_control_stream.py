"""ControlStream: what an idle FTP control connection holds, and how its driver is woken."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ferryd.ftp.control_stream import ControlStream


class FakeTransport(asyncio.Transport):
    def __init__(self, *, tls: bool = False) -> None:
        super().__init__()
        self.reading = True
        self.written = bytearray()
        self.closed = False
        self._tls = tls

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return object() if name == "sslcontext" and self._tls else default


class CountingDriver:
    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


def _stream(*, tls: bool = False, tls_first: bool = False) -> tuple[
    ControlStream, FakeTransport, CountingDriver
]:
    stream, transport, driver = ControlStream(tls_first=tls_first), FakeTransport(tls=tls), (
        CountingDriver())
    stream.driver = driver
    stream.connection_made(transport)
    return stream, transport, driver


def test_bytes_received_while_the_driver_works_wait_with_reading_paused() -> None:
    stream, transport, driver = _stream()
    stream.data_received(b"USER a\r\n")
    stream.data_received(b"PASS b\r\n")
    assert not transport.reading
    assert driver.wakes == 0
    assert stream.has_pending
    assert stream.read_nowait() == b"USER a\r\nPASS b\r\n"
    assert stream.read_nowait() is None


def test_an_idle_driver_is_woken_by_the_next_bytes_and_reading_resumes() -> None:
    stream, transport, driver = _stream()
    stream.data_received(b"NOOP\r\n")
    stream.read_nowait()
    stream.wait_for_bytes()
    assert transport.reading
    stream.data_received(b"PWD\r\n")
    assert driver.wakes == 1
    assert stream.read_nowait() == b"PWD\r\n"


def test_waiting_with_bytes_already_there_wakes_at_once() -> None:
    stream, _transport, driver = _stream()
    stream.data_received(b"NOOP\r\n")
    stream.wait_for_bytes()
    assert driver.wakes == 1


def test_eof_wakes_an_idle_driver_and_keeps_plain_tcp_half_open() -> None:
    stream, _transport, driver = _stream()
    stream.wait_for_bytes()
    assert stream.eof_received() is True  # replies to what came before the FIN still go out
    assert driver.wakes == 1
    assert stream.read_nowait() == b""


def test_eof_over_tls_closes() -> None:
    stream, _transport, _driver = _stream(tls=True)
    assert stream.eof_received() is False


def test_a_stopped_wait_wakes_nobody() -> None:
    stream, _transport, driver = _stream()
    stream.wait_for_bytes()
    stream.stop_waiting()
    stream.data_received(b"NOOP\r\n")
    assert driver.wakes == 0


def test_implicit_tls_reads_nothing_before_the_handshake() -> None:
    _unused, transport, _driver = _stream(tls_first=True)
    assert not transport.reading


def test_drain_waits_while_writing_is_paused_and_fails_once_the_connection_is_lost() -> None:
    async def scenario() -> None:
        stream, _transport, _driver = _stream()
        stream.pause_writing()
        waiters = [asyncio.create_task(stream.drain()) for _ in range(2)]
        await asyncio.sleep(0)
        assert not any(waiter.done() for waiter in waiters)
        stream.resume_writing()
        await asyncio.gather(*waiters)
        stream.pause_writing()
        waiter = asyncio.create_task(stream.drain())
        await asyncio.sleep(0)
        stream.connection_lost(None)
        with pytest.raises(ConnectionResetError):
            await waiter
        await stream.wait_closed()  # already closed: returns at once

    asyncio.run(scenario())


def test_a_lost_connection_wakes_an_idle_driver() -> None:
    stream, _transport, driver = _stream()
    stream.wait_for_bytes()
    stream.connection_lost(ConnectionResetError())
    assert driver.wakes == 1
    assert stream.read_nowait() == b""
