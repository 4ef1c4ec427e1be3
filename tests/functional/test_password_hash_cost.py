"""argon2_*_cost: the server makes and upgrades password hashes with the configured cost."""

from __future__ import annotations

import ftplib
import sqlite3
from pathlib import Path

from tests.functional.ferryd_process import PLAIN_CONFIG, running_ferryd

LIGHTER_COST = ("argon2_time_cost=2", "argon2_memory_cost=19456", "argon2_parallelism=1")


def stored_hash(data_dir: Path, name: str) -> str:
    connection = sqlite3.connect(data_dir / "users.sqlite3")
    try:
        [(stored,)] = connection.execute(
            "SELECT password_hash FROM users WHERE name = ?", (name,)).fetchall()
    finally:
        connection.close()
    assert isinstance(stored, str)
    return stored


def test_a_login_rehashes_the_password_at_the_configured_cost(tmp_path: Path) -> None:
    # The user is added with the default cost; the server runs with a lighter one.
    with running_ferryd(tmp_path, PLAIN_CONFIG, {"alice": "wonderland"},
                        overrides=LIGHTER_COST) as server:
        assert stored_hash(server.data_dir, "alice").startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        with ftplib.FTP() as client:
            client.connect(server.host, server.port, timeout=30)
            assert client.login("alice", "wonderland").startswith("230")
        upgraded = stored_hash(server.data_dir, "alice")
        assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        with ftplib.FTP() as client:  # the new hash checks the same password
            client.connect(server.host, server.port, timeout=30)
            assert client.login("alice", "wonderland").startswith("230")
            client.quit()
        assert stored_hash(server.data_dir, "alice") == upgraded
