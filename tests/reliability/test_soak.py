"""A bounded soak: concurrent sessions mixing FTP, explicit and implicit FTPS and SFTP, each
uploading and downloading files of random sizes, every hash checked; at the end the server's
memory (RSS from /proc) and open descriptors are back where they were after a warm-up.

Default: 1 minute, 100 concurrent sessions. FERRYD_LONG_TESTS=1: 10 minutes, 500.
Logins are let in a few at a time: each costs an argon2id hash (about 0.2 s of CPU), so 500
at once on two cores would wait a minute for their turn, which is a capacity figure (see
bench/), not what this soak is about."""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import wait_until
from tests.reliability.clients import ftp_login, ssh_connection
from tests.reliability.conftest import Record
from tests.reliability.recording import long_tests
from tests.reliability.servers import USER, ProcessFootprint, all_protocols_server

SECONDS, SESSIONS = (600, 500) if long_tests() else (60, 100)
PROTOCOLS = ("ftp", "ftps", "ftps-implicit", "sftp")
TRANSFERS_PER_SESSION = 20 if long_tests() else 5
LOGINS_AT_ONCE = 8
LOGIN_TIMEOUT = 120.0
SOAK = "max_per_ip=0\nidle_session_timeout=120\n"


@dataclass
class Tally:
    """What every worker did, under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    logins: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(LOGINS_AT_ONCE))
    sessions: int = 0
    uploads: int = 0
    downloads: int = 0
    bytes_moved: int = 0
    acknowledged: dict[str, str] = field(default_factory=dict)  # name -> sha256
    mismatched: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


def _payload(rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice((0, 1, 1000, 64 << 10, 200 << 10, rng.randrange(300_000))))


def _ftp_session(server: RunningFerryd, protocol: str, worker: int, rng: random.Random,
                 tally: Tally) -> None:
    with tally.logins:
        client = ftp_login(server, protocol, timeout=LOGIN_TIMEOUT)
    try:
        for _ in range(TRANSFERS_PER_SESSION):
            payload = _payload(rng)
            name = f"soak-{worker}-{rng.getrandbits(40):x}.bin"
            with client.transfercmd(f"STOR {name}") as data:
                data.sendall(payload)
                if hasattr(data, "unwrap"):
                    data.unwrap()
            if client.voidresp().startswith("226"):
                with tally.lock:
                    tally.acknowledged[name] = hashlib.sha256(payload).hexdigest()
            chunks: list[bytes] = []
            client.retrbinary(f"RETR {name}", chunks.append)
            tally.add(uploads=1, downloads=1, bytes_moved=2 * len(payload),
                      mismatched=int(b"".join(chunks) != payload))
        client.quit()
    finally:
        client.close()


async def _sftp_session(server: RunningFerryd, worker: int, rng: random.Random,
                        tally: Tally) -> None:
    await asyncio.to_thread(tally.logins.acquire)
    try:
        connecting = ssh_connection(server, timeout=LOGIN_TIMEOUT)
        conn = await connecting.__aenter__()
    finally:
        tally.logins.release()
    try:
        await _sftp_transfers(conn, worker, rng, tally)
    finally:
        await connecting.__aexit__(None, None, None)


async def _sftp_transfers(conn: asyncssh.SSHClientConnection, worker: int,
                          rng: random.Random, tally: Tally) -> None:
    async with conn.start_sftp_client() as sftp:
        for _ in range(TRANSFERS_PER_SESSION):
            payload = _payload(rng)
            name = f"soak-{worker}-{rng.getrandbits(40):x}.bin"
            async with sftp.open(name, "wb") as handle:
                await handle.write(payload)
            with tally.lock:
                tally.acknowledged[name] = hashlib.sha256(payload).hexdigest()
            async with sftp.open(name, "rb") as handle:
                again = await handle.read()
            tally.add(uploads=1, downloads=1, bytes_moved=2 * len(payload),
                      mismatched=int(again != payload))


def _worker(server: RunningFerryd, worker: int, keep_going: Callable[[], bool],
            tally: Tally) -> None:
    rng = random.Random(worker)
    protocol = PROTOCOLS[worker % len(PROTOCOLS)]
    first = True
    while first or keep_going():
        first = False
        try:
            if protocol == "sftp":
                asyncio.run(asyncio.wait_for(_sftp_session(server, worker, rng, tally), 600))
            else:
                _ftp_session(server, protocol, worker, rng, tally)
            tally.add(sessions=1)
        except Exception as exc:  # every failure is kept and fails the test
            with tally.lock:
                tally.errors.append(f"{protocol} worker {worker}: {type(exc).__name__}: {exc}")
            return


def _run_workers(server: RunningFerryd, count: int, keep_going: Callable[[], bool],
                 tally: Tally) -> None:
    threads = [threading.Thread(target=_worker, args=(server, number, keep_going, tally),
                                daemon=True) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SECONDS + 300)
    assert not any(thread.is_alive() for thread in threads), "a soak worker hung"


@pytest.mark.timeout(SECONDS + 600)
def test_soak_mixed_protocols(tmp_path: Path, certificate: Path, record: Record) -> None:
    with all_protocols_server(tmp_path / "server", certificate, SOAK) as server:
        pid = server.process.pid
        deadline = time.monotonic() + SECONDS  # the warm-up counts in the soak's time
        warm = Tally()
        _run_workers(server, SESSIONS, lambda: False, warm)  # one session each: pools grow
        assert warm.errors == [], warm.errors[:5]
        baseline = ProcessFootprint.of(pid)
        tally = Tally()
        _run_workers(server, SESSIONS, lambda: time.monotonic() < deadline, tally)
        assert wait_until(lambda: ProcessFootprint.of(pid).open_fds <= baseline.open_fds, 30)
        final = ProcessFootprint.of(pid)
        home = server.home(USER)
        lost = 0
        for name, digest in {**warm.acknowledged, **tally.acknowledged}.items():
            on_disk = home / name
            if not on_disk.exists() or hashlib.sha256(on_disk.read_bytes()).hexdigest() != digest:
                lost += on_disk.stat().st_size if on_disk.exists() else 1
        visible_partials = [p.name for p in home.iterdir() if not p.name.startswith("soak-")]
    growth = final.rss_bytes - baseline.rss_bytes
    record(area="load", fault=f"soak: {SESSIONS} concurrent sessions for {SECONDS} s, "
           "uploads and downloads of 0-300 KB, every hash checked", protocols=", ".join(
               PROTOCOLS), sessions=warm.sessions + tally.sessions,
           faults=0, bytes_lost=lost + tally.mismatched + warm.mismatched,
           detail=f"{tally.uploads + warm.uploads} uploads, {tally.downloads + warm.downloads}"
                  f" downloads, {(tally.bytes_moved + warm.bytes_moved) / (1 << 20):.0f} MiB; "
                  f"after warm-up {baseline.describe()}, at the end {final.describe()}; "
                  f"{len(tally.errors)} errors")
    assert tally.errors == [], tally.errors[:5]
    assert tally.mismatched == 0 and warm.mismatched == 0
    assert lost == 0
    assert visible_partials == []
    assert final.open_fds <= baseline.open_fds
    # "flat": what a soak of this size may add, at most a quarter plus 32 MiB of the RSS a
    # warmed-up server holds (allocator arenas settle; a leak per session grows past it)
    assert growth <= baseline.rss_bytes // 4 + (32 << 20), (baseline, final)
