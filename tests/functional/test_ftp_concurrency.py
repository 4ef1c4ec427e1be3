"""Twenty clients at once: each uploads, downloads and lists while the others do the same."""

from __future__ import annotations

import concurrent.futures
import ftplib
import hashlib
import io
import os
import threading
from collections.abc import Iterator

import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import (
    PLAIN,
    RawFtp,
    file_sha256,
    ftp_client,
    retrieve,
    sha256,
    shared_server,
    store,
    wait_until,
)

CLIENTS = 20
SHARED = os.urandom(3 << 20)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with shared_server(tmp_path_factory, PLAIN + "max_per_ip=0\n") as running:
        (running.home("alice") / "shared.bin").write_bytes(SHARED)
        yield running


def _one_client(server: RunningFerryd, number: int, everyone: threading.Barrier) -> str:
    payload = hashlib.sha256(str(number).encode()).digest() * (40_000 + number * 997)
    name = f"client-{number:02d}.bin"
    with ftp_client(server) as client:
        client.set_pasv(number % 2 == 0)  # half passive, half active
        everyone.wait()  # all twenty are logged in before anyone transfers
        client.storbinary(f"STOR {name}", io.BytesIO(payload))
        mine, shared = io.BytesIO(), io.BytesIO()
        client.retrbinary(f"RETR {name}", mine.write)
        client.retrbinary("RETR shared.bin", shared.write)
        listed = client.nlst()
    assert mine.getvalue() == payload, name
    assert sha256(shared.getvalue()) == sha256(SHARED), name
    assert name in listed and "shared.bin" in listed
    return sha256(payload)


def test_twenty_clients_at_once(server: RunningFerryd) -> None:
    everyone = threading.Barrier(CLIENTS, timeout=60)
    with concurrent.futures.ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(_one_client, server, n, everyone) for n in range(CLIENTS)]
        hashes = [future.result(timeout=120) for future in futures]
    home = server.home("alice")
    for number, expected in enumerate(hashes):
        assert file_sha256(home / f"client-{number:02d}.bin") == expected
    assert len(list(home.iterdir())) == CLIENTS + 1


def test_one_client_stuck_does_not_stop_the_others(server: RunningFerryd) -> None:
    """A client holding a half-done transfer does not delay anyone else."""
    with ftp_client(server) as stuck:
        connection = stuck.transfercmd("RETR shared.bin")  # opened, never read
        with connection, concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(
                lambda n: _one_client(server, 100 + n, threading.Barrier(1)), range(4),
                timeout=60,
            ))
        assert len(results) == 4
        try:  # the stuck transfer ends when its connection closes: 226 or 426
            final = stuck.voidresp()
        except ftplib.error_temp as exc:
            final = str(exc)
        assert final[:3] in ("226", "426")


def test_a_file_being_uploaded_is_not_served_half_written(server: RunningFerryd) -> None:
    """lock_upload_files (the default): while an upload runs, a download or a second upload
    of the same file is refused (450), never given a half file."""
    target = server.home("alice") / "in-progress.bin"
    with RawFtp(server.host, server.port) as producer, \
            RawFtp(server.host, server.port) as consumer:
        producer.login()
        consumer.login()
        with producer.pasv() as data:
            assert producer.cmd("STOR in-progress.bin").code == 150
            data.sendall(b"half")
            assert wait_until(lambda: target.exists() and target.stat().st_size == 4)
            first, payload, _last = retrieve(consumer, "RETR in-progress.bin")
            assert (first.code, payload) == (450, b"")
            first, _last = store(consumer, "STOR in-progress.bin", b"intruder")
            assert first.code == 450
            data.sendall(b" and the rest")
        assert producer.reply().code == 226
        _first, payload, last = retrieve(consumer, "RETR in-progress.bin")
        assert (payload, last.code) == (b"half and the rest", 226)
