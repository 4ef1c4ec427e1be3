"""Limits as vsftpd has them: max_per_ip, max_clients, max_login_fails, idle_session_timeout,
data_connection_timeout. Timeouts are 2 s here so the tests stay fast."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import PLAIN, RawFtp, ftp_client, shared_server, wait_until

LIMITS = PLAIN + (
    "max_per_ip=2\nmax_login_fails=2\nidle_session_timeout=2\ndata_connection_timeout=2\n"
)
BIG = b"\x5a" * (32 << 20)  # more than the loopback socket buffers hold


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with shared_server(tmp_path_factory, LIMITS) as running:
        (running.home("alice") / "big.bin").write_bytes(BIG)
        yield running


def test_third_connection_from_one_address_gets_421(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as first, RawFtp(server.host, server.port) as second:
        assert first.greeting.code == second.greeting.code == 220
        with RawFtp(server.host, server.port) as third:
            assert third.greeting.text == (
                "421 There are too many connections from your internet address."
            )
            assert third.closed_by_server()
        assert first.login().code == 230  # the two admitted ones are unaffected
    # once they are gone, the slots are free again
    assert wait_until(lambda: _greeting(server) == 220)


def _greeting(server: RunningFerryd) -> int:
    with RawFtp(server.host, server.port) as raw:
        return raw.greeting.code


def test_max_login_fails_closes_the_connection(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as raw:
        assert raw.cmd("USER alice").code == 331
        assert raw.cmd("PASS wrong-1").code == 530
        assert raw.cmd("USER alice").code == 331
        assert raw.cmd("PASS wrong-2").code == 530
        assert raw.reply().code == 421  # vsftpd just closes; a 421 first is kinder
        assert raw.closed_by_server()
    with ftp_client(server) as client:  # the right password still works on a new connection
        assert client.voidcmd("NOOP").startswith("200")


def test_idle_session_timeout_says_421_timeout(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as raw:
        assert raw.login().code == 230
        started = time.monotonic()
        reply = raw.reply()  # nothing sent: the server speaks first, after 2 s
        waited = time.monotonic() - started
        assert reply.text == "421 Timeout."
        assert raw.closed_by_server()
    assert 1.5 < waited < 8


def test_a_stalled_download_ends_after_data_connection_timeout(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        raw.cmd("TYPE I")
        with raw.pasv():  # connected, and never read
            assert raw.cmd("RETR big.bin").code == 150
            started = time.monotonic()
            assert raw.reply().code == 426
            waited = time.monotonic() - started
        assert raw.cmd("NOOP").code == 200
    assert 1.5 < waited < 10  # the stall timeout ended it, not an error at once


def test_a_stalled_upload_ends_after_data_connection_timeout(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        with raw.pasv() as data:
            assert raw.cmd("STOR stalled.bin").code == 150
            data.sendall(b"s" * 1000)  # then silence
            assert raw.reply().code == 426
        assert raw.cmd("NOOP").code == 200
    assert (server.home("alice") / "stalled.bin").read_bytes() == b"s" * 1000


def test_a_long_transfer_is_not_an_idle_session(server: RunningFerryd) -> None:
    """The idle timer runs between commands, not during a transfer that makes progress."""
    target = server.home("alice") / "slow.bin"
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        with raw.pasv() as data:
            assert raw.cmd("STOR slow.bin").code == 150
            sent = 0
            deadline = time.monotonic() + 3.0  # longer than idle_session_timeout=2
            while time.monotonic() < deadline:
                data.sendall(b"k" * 1024)
                sent += 1024
                assert wait_until(partial(_has_size, target, sent), timeout=5)
        assert raw.reply().code == 226
        assert raw.cmd("NOOP").code == 200
    assert target.stat().st_size == sent


def _has_size(path: Path, size: int) -> bool:
    return path.stat().st_size == size


def test_max_clients(start_ferryd: StartFerryd) -> None:
    with start_ferryd(PLAIN + "max_clients=1\n") as running, \
            RawFtp(running.host, running.port) as first:
        assert first.greeting.code == 220
        with RawFtp(running.host, running.port) as second:
            assert second.greeting.text == (
                "421 There are too many connected users, please try later."
            )
        assert first.login().code == 230
