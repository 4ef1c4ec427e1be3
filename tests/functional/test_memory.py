"""Password checks give their argon2id memory back: a burst of logins must not leave each
worker thread's heap holding a hash's worth of memory (allocator.py)."""

from __future__ import annotations

import ftplib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.functional.ferryd_process import PLAIN_CONFIG, RunningFerryd, running_ferryd

HASH_COST = "argon2_memory_cost=19456\nargon2_time_cost=2\nargon2_parallelism=1\n"  # 19 MiB
LOGINS = 48
KEPT_AT_MOST = 48 << 20  # without the fix: about 19 MiB for each of the executor's threads


def rss(server: RunningFerryd) -> int:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) << 10
    raise AssertionError("no VmRSS")


def log_in_and_out(server: RunningFerryd) -> None:
    with ftplib.FTP() as client:
        client.connect(server.host, server.port, timeout=60)
        client.login("alice", "wonderland")
        client.quit()


def test_a_burst_of_logins_keeps_no_hash_memory(tmp_path: Path) -> None:
    with running_ferryd(tmp_path, PLAIN_CONFIG + HASH_COST, {"alice": "wonderland"}) as server:
        log_in_and_out(server)  # code, TLS-free FTP paths and one hash: the baseline
        before = rss(server)
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda _: log_in_and_out(server), range(LOGINS)))
        grown = rss(server) - before
    assert grown < KEPT_AT_MOST, f"RSS grew by {grown >> 20} MiB over {LOGINS} logins"
