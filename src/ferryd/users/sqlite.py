"""SqliteUserStore: virtual users in one SQLite file, argon2id password hashes.

One sqlite3 connection per store, used from worker threads (`asyncio.to_thread`) one call at a
time under a lock; password hashing and verification run in worker threads too, outside that
lock, so logins verify in parallel and the event loop never blocks. The file is created on first
use, in WAL mode, readable by its owner only.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ferryd.config.settings import StoreSettings
from ferryd.users.model import LoginOrigin, User
from ferryd.users.public_keys import normalise_fingerprint, parse_openssh_public_key
from ferryd.users.store import (
    PublicKeyExistsError,
    UnknownPublicKeyError,
    UnknownUserError,
    UserExistsError,
    UserStoreUnavailableError,
    format_shared_folder,
    is_valid_user_name,
    parse_shared_folder,
    validate_home,
    validate_password,
    validate_user_name,
)

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2

DATABASE_FILE_MODE = 0o600
DATABASE_FOLDER_MODE = 0o700

_SCHEMA_V1 = (
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        home TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        permissions TEXT NOT NULL DEFAULT '[]',
        created REAL NOT NULL
    )
    """,
    """
    CREATE TABLE user_public_keys (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        key_line TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        UNIQUE (user_id, fingerprint)
    )
    """,
)

_SCHEMA_V2 = (
    # shared folders mapped into the user's tree: JSON list of "/virtual=/real/path"
    "ALTER TABLE users ADD COLUMN folders TEXT NOT NULL DEFAULT '[]'",
)

_USER_COLUMNS = "id, name, password_hash, home, enabled, permissions, created, folders"

_P = ParamSpec("_P")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _UserRow:
    """A users row with its keys: the one place a password hash lives outside the database."""

    user_id: int
    password_hash: str
    user: User


class SqliteUserStore:
    """UserStore and UserAdmin over one SQLite file at `path`.

    `password_hasher` defaults to argon2-cffi's `PasswordHasher()` (argon2id, its default cost);
    a hash made with other parameters is replaced at the next successful login.
    """

    def __init__(self, path: str, *, password_hasher: PasswordHasher | None = None) -> None:
        self._path = os.path.abspath(path)
        self._hasher = password_hasher if password_hasher is not None else PasswordHasher()
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._dummy_hash_lock = threading.Lock()
        self._dummy_hash: str | None = None
        self._closed = False

    @property
    def path(self) -> str:
        return self._path

    async def __aenter__(self) -> SqliteUserStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the database; later calls raise RuntimeError. Closing twice is harmless."""
        await asyncio.to_thread(self._close_blocking)

    # --- UserStore -------------------------------------------------------------------------

    async def authenticate(self, name: str, password: str,
                           origin: LoginOrigin | None = None) -> User | None:
        del origin  # the same answer from anywhere
        return await asyncio.to_thread(self._authenticate_blocking, name, password)

    async def get(self, name: str) -> User | None:
        row = await self._run(_select_user, name)
        return row.user if row is not None else None

    # --- UserAdmin -------------------------------------------------------------------------

    async def add(self, name: str, password: str, home: str) -> User:
        validate_user_name(name)
        validate_password(password)
        home = validate_home(home)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        user = User(name=name, home=home, enabled=True, created=time.time())
        await self._run(_insert_user, user, password_hash)
        logger.info("user %s added", name)
        return user

    async def delete(self, name: str) -> None:
        await self._run(_delete_user, name)
        logger.info("user %s deleted", name)

    async def list(self) -> builtins.list[User]:
        return await self._run(_select_all_users)

    async def set_password(self, name: str, password: str) -> None:
        validate_password(password)
        if await self.get(name) is None:  # fail before spending a hash on nobody
            raise UnknownUserError(f"no such user: {name}")
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        await self._run(_update_user_column, name, "password_hash", password_hash)
        logger.info("password of user %s changed", name)

    async def set_home(self, name: str, home: str) -> None:
        await self._run(_update_user_column, name, "home", validate_home(home))
        logger.info("home of user %s changed", name)

    async def set_enabled(self, name: str, enabled: bool) -> None:
        await self._run(_update_user_column, name, "enabled", 1 if enabled else 0)
        logger.info("user %s %s", name, "enabled" if enabled else "disabled")

    async def set_permissions(self, name: str, rules: tuple[str, ...]) -> None:
        await self._run(_update_user_column, name, "permissions", json.dumps(list(rules)))
        logger.info("permissions of user %s set to %s", name, " ".join(rules) or "(defaults)")

    async def set_folders(self, name: str, folders: tuple[str, ...]) -> None:
        checked = tuple(format_shared_folder(*parse_shared_folder(text)) for text in folders)
        await self._run(_update_user_column, name, "folders", json.dumps(list(checked)))
        logger.info("shared folders of user %s set to %s", name, " ".join(checked) or "(none)")

    async def add_key(self, name: str, key_line: str) -> None:
        public_key = await asyncio.to_thread(parse_openssh_public_key, key_line)
        await self._run(_insert_key, name, public_key.line, public_key.fingerprint)
        logger.info("key %s added to user %s", public_key.fingerprint, name)

    async def delete_key(self, name: str, fingerprint_or_index: str | int) -> None:
        await self._run(_delete_key, name, fingerprint_or_index)
        logger.info("key %s deleted from user %s", fingerprint_or_index, name)

    # --- blocking parts, run in worker threads -----------------------------------------------

    def _authenticate_blocking(self, name: str, password: str) -> User | None:
        dummy_hash = self._dummy_password_hash()  # before the look-up: the same for every name
        row = self._with_connection(_select_user, name)
        if row is None or not row.user.enabled:
            # Spend the same time as a real check so the answer does not tell who exists.
            self._verify(dummy_hash, password)
            return None
        if not self._verify(row.password_hash, password, name):
            return None
        if self._hasher.check_needs_rehash(row.password_hash):
            new_hash = self._hasher.hash(password)
            try:
                self._with_connection(
                    _replace_password_hash, row.user_id, row.password_hash, new_hash
                )
            except UserStoreUnavailableError as exc:  # the login stands; upgrade next time
                logger.warning("password hash of user %s not upgraded: %s", name, exc)
            else:
                logger.info("password hash of user %s upgraded", name)
        return row.user

    def _dummy_password_hash(self) -> str:
        """A hash of a random password, made once per store with the store's hasher."""
        with self._dummy_hash_lock:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
            return self._dummy_hash

    def _verify(self, password_hash: str, password: str, name: str = "") -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError):
            logger.warning("the password hash of user %s cannot be checked; login refused", name)
            return False

    async def _run(
        self,
        operation: Callable[Concatenate[sqlite3.Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        return await asyncio.to_thread(lambda: self._with_connection(operation, *args, **kwargs))

    def _with_connection(
        self,
        operation: Callable[Concatenate[sqlite3.Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        with self._lock:
            connection = self._open_connection()
            try:
                return operation(connection, *args, **kwargs)
            except sqlite3.Error as exc:
                raise UserStoreUnavailableError(f"user database {self._path}: {exc}") from exc

    def _open_connection(self) -> sqlite3.Connection:
        """The connection, opened (and the file and schema created) on first use."""
        if self._closed:
            raise RuntimeError("the user store is closed")
        if self._connection is not None:
            return self._connection
        try:
            _create_database_file(self._path)
            connection = sqlite3.connect(
                self._path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise UserStoreUnavailableError(
                f"cannot open user database {self._path}: {exc}"
            ) from exc
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA foreign_keys=ON")
            _migrate_schema(connection)
        except sqlite3.Error as exc:
            connection.close()
            raise UserStoreUnavailableError(
                f"cannot open user database {self._path}: {exc}"
            ) from exc
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _close_blocking(self) -> None:
        with self._lock:
            self._closed = True
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def open_user_store(path: str) -> SqliteUserStore:
    """The user store for the database file at `path` (created on first use)."""
    return SqliteUserStore(path)


def configured_user_store(store: StoreSettings) -> SqliteUserStore:
    """The configured database (created on first use), making and upgrading password hashes
    with the configured argon2id cost."""
    hasher = PasswordHasher(time_cost=store.argon2_time_cost,
                            memory_cost=store.argon2_memory_cost,
                            parallelism=store.argon2_parallelism)
    return SqliteUserStore(store.user_db, password_hasher=hasher)


# --- database file and schema -----------------------------------------------------------------


def _create_database_file(path: str) -> None:
    """Create the folder (0700) and an empty database file (0600) unless they exist."""
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, mode=DATABASE_FOLDER_MODE, exist_ok=True)
        os.chmod(folder, DATABASE_FOLDER_MODE)
    try:
        descriptor = os.open(
            path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, DATABASE_FILE_MODE
        )
    except FileExistsError:
        return
    try:
        os.fchmod(descriptor, DATABASE_FILE_MODE)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _transaction(connection: sqlite3.Connection, *, write: bool = False) -> Iterator[None]:
    """One transaction; a writer takes the write lock up front (BEGIN IMMEDIATE) so that it
    waits for other writers instead of failing on a lock upgrade."""
    connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _migrate_schema(connection: sqlite3.Connection) -> None:
    with _transaction(connection, write=True):
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        (version,) = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
        version = version or 0
        if version > SCHEMA_VERSION:
            raise UserStoreUnavailableError(
                f"the user database has schema version {version}; this ferryd understands"
                f" up to {SCHEMA_VERSION}"
            )
        if version < 1:
            for statement in _SCHEMA_V1:
                connection.execute(statement)
            connection.execute("INSERT INTO schema_version (version) VALUES (1)")
        if version < 2:
            for statement in _SCHEMA_V2:
                connection.execute(statement)
            connection.execute("INSERT INTO schema_version (version) VALUES (2)")


# --- queries (each runs in a worker thread with the store's lock held) ----------------------


def _user_from_row(row: Sequence[Any], key_lines: tuple[str, ...]) -> _UserRow:
    """A users row (columns in _USER_COLUMNS order) and its key lines -> _UserRow."""
    user_id, name, password_hash, home, enabled, permissions, created, folders = row
    return _UserRow(
        user_id=int(user_id),
        password_hash=str(password_hash),
        user=User(
            name=str(name),
            home=str(home),
            enabled=bool(enabled),
            permissions=tuple(str(permission) for permission in json.loads(permissions)),
            public_keys=key_lines,
            created=float(created),
            folders=tuple(str(folder) for folder in json.loads(folders)),
        ),
    )


def _select_user(connection: sqlite3.Connection, name: str) -> _UserRow | None:
    if not is_valid_user_name(name):
        return None
    with _transaction(connection):
        row = connection.execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            return None
        key_lines = tuple(
            line
            for (line,) in connection.execute(
                "SELECT key_line FROM user_public_keys WHERE user_id = ? ORDER BY id", (row[0],)
            )
        )
    return _user_from_row(row, key_lines)


def _select_all_users(connection: sqlite3.Connection) -> list[User]:
    with _transaction(connection):
        rows = connection.execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name").fetchall()
        key_lines_by_user: dict[int, list[str]] = {}
        for user_id, line in connection.execute(
            "SELECT user_id, key_line FROM user_public_keys ORDER BY id"
        ):
            key_lines_by_user.setdefault(user_id, []).append(line)
    return [_user_from_row(row, tuple(key_lines_by_user.get(row[0], ()))).user for row in rows]


def _user_id(connection: sqlite3.Connection, name: str) -> int:
    row = connection.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise UnknownUserError(f"no such user: {name}")
    return int(row[0])


def _insert_user(connection: sqlite3.Connection, user: User, password_hash: str) -> None:
    try:
        with _transaction(connection, write=True):
            connection.execute(
                "INSERT INTO users (name, password_hash, home, enabled, permissions, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    user.name,
                    password_hash,
                    user.home,
                    int(user.enabled),
                    json.dumps(list(user.permissions)),
                    user.created,
                ),
            )
    except sqlite3.IntegrityError as exc:
        raise UserExistsError(f"user already exists: {user.name}") from exc


def _delete_user(connection: sqlite3.Connection, name: str) -> None:
    with _transaction(connection, write=True):
        cursor = connection.execute("DELETE FROM users WHERE name = ?", (name,))
        if cursor.rowcount == 0:
            raise UnknownUserError(f"no such user: {name}")


def _update_user_column(
    connection: sqlite3.Connection,
    name: str,
    column: Literal["password_hash", "home", "enabled", "permissions", "folders"],
    value: str | int,
) -> None:
    with _transaction(connection, write=True):
        cursor = connection.execute(f"UPDATE users SET {column} = ? WHERE name = ?", (value, name))
        if cursor.rowcount == 0:
            raise UnknownUserError(f"no such user: {name}")


def _replace_password_hash(
    connection: sqlite3.Connection, user_id: int, old_hash: str, new_hash: str
) -> None:
    """Upgrade a hash at login unless the password was changed meanwhile."""
    with _transaction(connection, write=True):
        connection.execute(
            "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?",
            (new_hash, user_id, old_hash),
        )


def _insert_key(connection: sqlite3.Connection, name: str, key_line: str, fingerprint: str) -> None:
    try:
        with _transaction(connection, write=True):
            connection.execute(
                "INSERT INTO user_public_keys (user_id, key_line, fingerprint) VALUES (?, ?, ?)",
                (_user_id(connection, name), key_line, fingerprint),
            )
    except sqlite3.IntegrityError as exc:
        raise PublicKeyExistsError(f"user {name} already has key {fingerprint}") from exc


def _delete_key(connection: sqlite3.Connection, name: str, fingerprint_or_index: str | int) -> None:
    with _transaction(connection, write=True):
        user_id = _user_id(connection, name)
        if isinstance(fingerprint_or_index, int):
            key_ids = [
                key_id
                for (key_id,) in connection.execute(
                    "SELECT id FROM user_public_keys WHERE user_id = ? ORDER BY id", (user_id,)
                )
            ]
            if not key_ids:
                raise UnknownPublicKeyError(f"user {name} has no keys")
            if not 1 <= fingerprint_or_index <= len(key_ids):
                raise UnknownPublicKeyError(
                    f"user {name} has no key number {fingerprint_or_index}"
                    f" (keys are numbered 1 to {len(key_ids)})"
                )
            connection.execute(
                "DELETE FROM user_public_keys WHERE id = ?", (key_ids[fingerprint_or_index - 1],)
            )
            return
        fingerprint = normalise_fingerprint(fingerprint_or_index)
        cursor = connection.execute(
            "DELETE FROM user_public_keys WHERE user_id = ? AND fingerprint = ?",
            (user_id, fingerprint),
        )
        if cursor.rowcount == 0:
            raise UnknownPublicKeyError(f"user {name} has no key {fingerprint}")
