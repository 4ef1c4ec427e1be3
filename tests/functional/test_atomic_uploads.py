"""upload_mode=atomic (the default): a consumer never sees, or picks up, half a file."""

from __future__ import annotations

import ftplib
import io
import os
import socket
import struct
import time
from pathlib import Path

import pytest

from tests.functional.conftest import PLAIN_CONFIG, StartFerryd


def _client(port: int) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect("127.0.0.1", port, timeout=30)
    client.login("alice", "wonderland")
    return client


def _wait_for(predicate: object, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_half_an_upload_is_invisible_then_appears_whole(start_ferryd: StartFerryd) -> None:
    first_half, second_half = os.urandom(300_000), os.urandom(300_000)
    with start_ferryd() as server, _client(server.port) as producer, _client(
        server.port
    ) as consumer:
        home: Path = server.home("alice")
        data = producer.transfercmd("STOR orders.csv")
        data.sendall(first_half)
        # the bytes are on the server (in a hidden file), yet nobody can see or fetch them
        assert _wait_for(lambda: sum(p.stat().st_size for p in home.iterdir()) >= 300_000)
        assert consumer.nlst() == []
        assert not (home / "orders.csv").exists()
        data.sendall(second_half)
        data.close()
        assert producer.voidresp().startswith("226")
        assert consumer.nlst() == ["orders.csv"]
        assert (home / "orders.csv").read_bytes() == first_half + second_half
        assert [p.name for p in home.iterdir()] == ["orders.csv"]  # no temporary left


def test_a_broken_upload_leaves_nothing_and_keeps_the_old_file(start_ferryd: StartFerryd) -> None:
    with start_ferryd() as server:
        home: Path = server.home("alice")
        (home / "prices.csv").write_bytes(b"old prices\n")
        with _client(server.port) as producer:
            data = producer.transfercmd("STOR prices.csv")
            data.sendall(b"new pri")  # ... and the producer's connection breaks (a reset, not
            # the orderly close that ends a stream-mode upload)
            data.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            data.close()
            with pytest.raises(ftplib.error_temp, match=r"^426"):
                producer.voidresp()
        assert _wait_for(lambda: [p.name for p in home.iterdir()] == ["prices.csv"])
        assert (home / "prices.csv").read_bytes() == b"old prices\n"


def test_direct_mode_writes_in_place_as_vsftpd(start_ferryd: StartFerryd) -> None:
    with start_ferryd(PLAIN_CONFIG + "upload_mode=direct\n") as server, _client(
        server.port
    ) as producer:
        home: Path = server.home("alice")
        data = producer.transfercmd("STOR live.log")
        data.sendall(b"x" * 100_000)
        assert _wait_for(lambda: (home / "live.log").exists()
                         and (home / "live.log").stat().st_size == 100_000)
        data.close()
        assert producer.voidresp().startswith("226")


def test_resume_appends_to_the_visible_file(start_ferryd: StartFerryd) -> None:
    with start_ferryd() as server, _client(server.port) as producer:
        home: Path = server.home("alice")
        producer.storbinary("STOR big.bin", io.BytesIO(b"a" * 1000))
        producer.storbinary("STOR big.bin", io.BytesIO(b"b" * 500), rest=1000)
        producer.storbinary("APPE big.bin", io.BytesIO(b"c" * 10))
        assert (home / "big.bin").read_bytes() == b"a" * 1000 + b"b" * 500 + b"c" * 10


def test_an_upload_onto_an_outside_symlink_never_writes_outside(
    start_ferryd: StartFerryd, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"precious")
    with start_ferryd() as server, _client(server.port) as producer:
        home: Path = server.home("alice")
        (home / "trap.txt").symlink_to(outside)
        try:
            producer.storbinary("STOR trap.txt", io.BytesIO(b"overwritten?"))
        except ftplib.error_perm as exc:
            assert str(exc).startswith("5")
    assert outside.read_bytes() == b"precious"
