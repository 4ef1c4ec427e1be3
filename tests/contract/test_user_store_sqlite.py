"""What only the SQLite backend promises: its file, modes, schema and what it stores."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from ferryd.users.sqlite import SCHEMA_VERSION, SqliteUserStore, open_user_store
from ferryd.users.store import UserStoreUnavailableError

PASSWORD = "correct-horse-battery-staple"


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def add_and_login(database: Path) -> None:
    async def scenario() -> None:
        async with open_user_store(str(database)) as store:
            await store.add("alice", PASSWORD, "/srv/alice")
            assert await store.authenticate("alice", PASSWORD) is not None
            await store.set_password("alice", PASSWORD + "2")
            assert await store.authenticate("alice", "wrong") is None

    asyncio.run(scenario())


def read_column(database: Path, query: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(database)
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


def test_open_user_store_returns_a_sqlite_store_and_touches_nothing(tmp_path: Path) -> None:
    store = open_user_store(str(tmp_path / "data" / "users.db"))
    assert isinstance(store, SqliteUserStore)
    assert store.path == str(tmp_path / "data" / "users.db")
    assert not (tmp_path / "data").exists()
    asyncio.run(store.close())


def test_first_use_creates_a_private_folder_and_file(tmp_path: Path) -> None:
    database = tmp_path / "data" / "users.db"
    add_and_login(database)
    assert file_mode(tmp_path / "data") == 0o700
    assert file_mode(database) == 0o600


def test_an_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    add_and_login(folder / "users.db")
    assert file_mode(folder) == 0o755
    assert file_mode(folder / "users.db") == 0o600


def test_the_write_ahead_log_files_are_private_too(tmp_path: Path) -> None:
    database = tmp_path / "users.db"

    async def scenario() -> list[int]:
        async with open_user_store(str(database)) as store:
            await store.add("alice", PASSWORD, "/srv/alice")
            return [
                file_mode(Path(str(database) + suffix))
                for suffix in ("-wal", "-shm")
                if Path(str(database) + suffix).exists()
            ]

    modes = asyncio.run(scenario())
    assert modes and all(mode == 0o600 for mode in modes)


def test_the_database_is_in_wal_mode_with_a_schema_version(tmp_path: Path) -> None:
    database = tmp_path / "users.db"
    add_and_login(database)
    assert read_column(database, "PRAGMA journal_mode") == [("wal",)]
    assert read_column(database, "SELECT MAX(version) FROM schema_version") == [(SCHEMA_VERSION,)]


def test_the_database_holds_an_argon2id_hash_and_never_the_password(tmp_path: Path) -> None:
    database = tmp_path / "users.db"
    add_and_login(database)
    [(stored_hash, permissions)] = read_column(
        database, "SELECT password_hash, permissions FROM users"
    )
    assert isinstance(stored_hash, str) and stored_hash.startswith("$argon2id$")
    assert permissions == "[]"
    for path in tmp_path.iterdir():
        assert PASSWORD.encode() not in path.read_bytes(), path


def test_the_password_is_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    add_and_login(tmp_path / "users.db")
    assert PASSWORD not in caplog.text
    assert "alice" in caplog.text  # the log does say what happened, to whom


def test_a_file_that_is_not_a_database_is_reported(tmp_path: Path) -> None:
    database = tmp_path / "users.db"
    database.write_bytes(b"this is not a database, " * 100)

    async def scenario() -> None:
        async with open_user_store(str(database)) as store:
            with pytest.raises(UserStoreUnavailableError, match=r"users\.db"):
                await store.list()

    asyncio.run(scenario())


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "users.db"
    add_and_login(database)
    connection = sqlite3.connect(database)
    with connection:
        connection.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    connection.close()

    async def scenario() -> None:
        async with open_user_store(str(database)) as store:
            with pytest.raises(UserStoreUnavailableError, match="schema version"):
                await store.get("alice")

    asyncio.run(scenario())


def test_a_folder_that_cannot_be_created_is_reported(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")

    async def scenario() -> None:
        async with open_user_store(str(tmp_path / "file" / "users.db")) as store:
            with pytest.raises(UserStoreUnavailableError, match="cannot open"):
                await store.list()

    asyncio.run(scenario())


def test_two_stores_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    database = str(tmp_path / "users.db")

    async def scenario() -> list[bool]:
        async with open_user_store(database) as server, open_user_store(database) as admin:
            assert await server.get("alice") is None
            await admin.add("alice", PASSWORD, "/srv/alice")
            found = await server.authenticate("alice", PASSWORD) is not None
            await admin.set_enabled("alice", False)
            refused = await server.authenticate("alice", PASSWORD) is None
            return [found, refused]

    assert asyncio.run(scenario()) == [True, True]


def test_a_damaged_hash_refuses_the_login_without_raising(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "users.db"
    add_and_login(database)
    connection = sqlite3.connect(database)
    with connection:
        connection.execute("UPDATE users SET password_hash = 'not-a-hash'")
    connection.close()

    async def scenario() -> object:
        async with open_user_store(str(database)) as store:
            return await store.authenticate("alice", PASSWORD)

    assert asyncio.run(scenario()) is None
    assert "cannot be checked" in caplog.text


def test_a_version_1_database_gains_shared_folders(tmp_path: Path) -> None:
    """A database made before shared folders (schema 1) opens, keeps its users, and takes
    folders; invalid mappings are refused."""
    database = tmp_path / "users.db"
    connection = sqlite3.connect(database)
    with connection:
        connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        connection.execute("INSERT INTO schema_version (version) VALUES (1)")
        connection.execute(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
            " password_hash TEXT NOT NULL, home TEXT NOT NULL, enabled INTEGER NOT NULL"
            " DEFAULT 1, permissions TEXT NOT NULL DEFAULT '[]', created REAL NOT NULL)"
        )
        connection.execute(
            "CREATE TABLE user_public_keys (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL"
            " REFERENCES users(id) ON DELETE CASCADE, key_line TEXT NOT NULL, fingerprint TEXT"
            " NOT NULL, UNIQUE (user_id, fingerprint))"
        )
        connection.execute(
            "INSERT INTO users (name, password_hash, home, created) VALUES"
            " ('old', 'not-a-hash', '/srv/old', 0)"
        )
    connection.close()

    async def scenario() -> None:
        async with open_user_store(str(database)) as store:
            old = await store.get("old")
            assert old is not None and old.folders == () and old.home == "/srv/old"
            await store.set_folders("old", ("/inbox/=/srv/exchange//inbox",))
            old = await store.get("old")
            assert old is not None and old.folders == ("/inbox=/srv/exchange/inbox",)
            for bad in ("inbox=/srv/x", "/=/srv/x", "/inbox=relative/path", "/inbox"):
                with pytest.raises(ValueError, match="shared folder"):
                    await store.set_folders("old", (bad,))

    asyncio.run(scenario())
    assert read_column(database, "SELECT MAX(version) FROM schema_version") == [(SCHEMA_VERSION,)]
