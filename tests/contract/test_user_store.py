"""The UserStore and UserAdmin contract, run over every backend (SQLite now)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal, Protocol, TypeVar

import asyncssh
import pytest
from argon2 import PasswordHasher

from ferryd.users.model import User
from ferryd.users.sqlite import SqliteUserStore
from ferryd.users.store import (
    InvalidHomeError,
    InvalidPasswordError,
    InvalidPublicKeyError,
    InvalidUserNameError,
    PublicKeyExistsError,
    UnknownPublicKeyError,
    UnknownUserError,
    UserAdmin,
    UserExistsError,
    UserStore,
)

_T = TypeVar("_T")


def weak_password_hasher() -> PasswordHasher:
    """Cheap parameters, so a later login with the default hasher must upgrade the hash."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class ClosableUserStore(UserStore, UserAdmin, Protocol):
    async def close(self) -> None: ...


class Backend(Protocol):
    def open(self, password_hasher: PasswordHasher | None = None) -> ClosableUserStore: ...

    def stored_password_hash(self, name: str) -> str: ...


class SqliteBackend:
    def __init__(self, folder: Path) -> None:
        self.path = str(folder / "data" / "users.sqlite3")

    def open(self, password_hasher: PasswordHasher | None = None) -> ClosableUserStore:
        return SqliteUserStore(self.path, password_hasher=password_hasher)

    def stored_password_hash(self, name: str) -> str:
        connection = sqlite3.connect(self.path)
        try:
            row = connection.execute(
                "SELECT password_hash FROM users WHERE name = ?", (name,)
            ).fetchone()
        finally:
            connection.close()
        assert row is not None
        return str(row[0])


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return SqliteBackend(tmp_path)
    raise AssertionError(request.param)


class CountingPasswordHasher(PasswordHasher):
    """The default hasher, counting verify() calls."""

    def __init__(self) -> None:
        super().__init__()
        self.verify_calls = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verify_calls += 1
        return super().verify(hash, password)


def run(
    backend: Backend,
    scenario: Callable[[ClosableUserStore], Awaitable[_T]],
    password_hasher: PasswordHasher | None = None,
) -> _T:
    """Open a store, run `scenario` on it in a fresh event loop, close the store."""

    async def run_and_close() -> _T:
        store = backend.open(password_hasher)
        try:
            return await scenario(store)
        finally:
            await store.close()

    return asyncio.run(run_and_close())


def public_key_line(comment: str = "") -> str:
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment or None)
    return key.export_public_key("openssh").decode().strip()


def fingerprint_of(key_line: str) -> str:
    return asyncssh.import_public_key(key_line).get_fingerprint("sha256")


# --- add, get, authenticate -------------------------------------------------------------------


def test_add_returns_an_enabled_user_that_get_finds(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> tuple[User, User | None]:
        added = await store.add("alice", "s3cret", "/srv/ferry/alice")
        return added, await store.get("alice")

    added, found = run(backend, scenario)
    assert added == found
    assert added.name == "alice"
    assert added.home == "/srv/ferry/alice"
    assert added.enabled is True
    assert added.permissions == ()
    assert added.public_keys == ()
    assert added.created > 1_600_000_000


def test_authenticate_with_the_right_password_returns_the_user(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> tuple[User, User | None]:
        added = await store.add("alice", "s3cret", "/srv/alice")
        return added, await store.authenticate("alice", "s3cret")

    added, authenticated = run(backend, scenario)
    assert authenticated == added


@pytest.mark.parametrize("password", ["wrong", "", "s3cret ", "S3CRET", "s3cre"])
def test_authenticate_with_a_wrong_password_returns_none(backend: Backend, password: str) -> None:
    async def scenario(store: ClosableUserStore) -> User | None:
        await store.add("alice", "s3cret", "/srv/alice")
        return await store.authenticate("alice", password)

    assert run(backend, scenario) is None


@pytest.mark.parametrize("name", ["bob", "Alice", "", "-alice", "a" * 65, "alice\n"])
def test_unknown_or_impossible_names_are_not_found(backend: Backend, name: str) -> None:
    async def scenario(store: ClosableUserStore) -> tuple[User | None, User | None]:
        await store.add("alice", "s3cret", "/srv/alice")
        return await store.get(name), await store.authenticate(name, "s3cret")

    assert run(backend, scenario) == (None, None)


def test_a_disabled_user_cannot_log_in_until_enabled(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> list[object]:
        await store.add("alice", "s3cret", "/srv/alice")
        await store.set_enabled("alice", False)
        disabled = await store.get("alice")
        refused = await store.authenticate("alice", "s3cret")
        await store.set_enabled("alice", True)
        return [disabled, refused, await store.authenticate("alice", "s3cret")]

    disabled, refused, accepted = run(backend, scenario)
    assert isinstance(disabled, User) and disabled.enabled is False
    assert refused is None
    assert isinstance(accepted, User) and accepted.enabled is True


def test_failed_logins_cost_one_verify_whether_or_not_the_user_exists(backend: Backend) -> None:
    hasher = CountingPasswordHasher()

    async def scenario(store: ClosableUserStore) -> list[int]:
        await store.add("alice", "s3cret", "/srv/alice")
        await store.add("carol", "s3cret", "/srv/carol")
        await store.set_enabled("carol", False)
        calls = []
        for name, password in [
            ("alice", "wrong"),  # exists, wrong password
            ("bob", "s3cret"),  # does not exist
            ("carol", "s3cret"),  # disabled
            ("-bad-", "s3cret"),  # cannot exist
        ]:
            before = hasher.verify_calls
            assert await store.authenticate(name, password) is None
            calls.append(hasher.verify_calls - before)
        return calls

    assert run(backend, scenario, hasher) == [1, 1, 1, 1]


def test_users_persist_across_reopening(backend: Backend) -> None:
    async def add(store: ClosableUserStore) -> None:
        await store.add("alice", "s3cret", "/srv/alice")

    async def authenticate(store: ClosableUserStore) -> User | None:
        return await store.authenticate("alice", "s3cret")

    run(backend, add)
    user = run(backend, authenticate)
    assert user is not None and user.name == "alice"


# --- add: rules -------------------------------------------------------------------------------


def test_adding_an_existing_name_fails_and_keeps_the_first_user(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> User | None:
        await store.add("alice", "first", "/srv/alice")
        with pytest.raises(UserExistsError, match="alice"):
            await store.add("alice", "second", "/srv/other")
        return await store.authenticate("alice", "first")

    user = run(backend, scenario)
    assert user is not None and user.home == "/srv/alice"


@pytest.mark.parametrize(
    "name",
    ["", "-alice", ".alice", "a" * 65, "al ice", "al/ice", "al:ice", "alïce", "alice\n", "a\0"],
)
def test_invalid_names_are_refused(backend: Backend, name: str) -> None:
    async def scenario(store: ClosableUserStore) -> list[User]:
        with pytest.raises(InvalidUserNameError):
            await store.add(name, "s3cret", "/srv/x")
        return await store.list()

    assert run(backend, scenario) == []


@pytest.mark.parametrize("name", ["a", "Z", "7", "_svc", "@team", "a.b_c-d@e.example", "a" * 64])
def test_valid_names_are_accepted(backend: Backend, name: str) -> None:
    async def scenario(store: ClosableUserStore) -> User | None:
        await store.add(name, "s3cret", "/srv/x")
        return await store.authenticate(name, "s3cret")

    user = run(backend, scenario)
    assert user is not None and user.name == name


def test_an_empty_password_is_refused(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> User | None:
        with pytest.raises(InvalidPasswordError):
            await store.add("alice", "", "/srv/alice")
        return await store.get("alice")

    assert run(backend, scenario) is None


@pytest.mark.parametrize("home", ["", "srv/alice", "./alice", "/srv/a\0b"])
def test_a_home_that_is_not_an_absolute_path_is_refused(backend: Backend, home: str) -> None:
    async def scenario(store: ClosableUserStore) -> None:
        with pytest.raises(InvalidHomeError):
            await store.add("alice", "s3cret", home)

    run(backend, scenario)


def test_home_paths_are_normalised(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> User:
        return await store.add("alice", "s3cret", "/srv//ferry/./alice/")

    assert run(backend, scenario).home == "/srv/ferry/alice"


# --- delete, list -----------------------------------------------------------------------------


def test_delete_removes_the_user(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> list[object]:
        await store.add("alice", "s3cret", "/srv/alice")
        await store.add("bob", "s3cret", "/srv/bob")
        await store.delete("alice")
        return [
            await store.get("alice"),
            await store.authenticate("alice", "s3cret"),
            [user.name for user in await store.list()],
        ]

    assert run(backend, scenario) == [None, None, ["bob"]]


def test_deleting_an_unknown_user_fails(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> None:
        with pytest.raises(UnknownUserError, match="nobody"):
            await store.delete("nobody")

    run(backend, scenario)


def test_list_returns_every_user_ordered_by_name(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> list[User]:
        for name in ["carol", "alice", "bob"]:
            await store.add(name, "s3cret", f"/srv/{name}")
        await store.set_enabled("bob", False)
        return await store.list()

    users = run(backend, scenario)
    assert [(user.name, user.home, user.enabled) for user in users] == [
        ("alice", "/srv/alice", True),
        ("bob", "/srv/bob", False),
        ("carol", "/srv/carol", True),
    ]


def test_list_of_an_empty_store_is_empty(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> list[User]:
        return await store.list()

    assert run(backend, scenario) == []


# --- set_password, set_home, set_enabled --------------------------------------------------------


def test_set_password_replaces_the_password(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> list[bool]:
        await store.add("alice", "old", "/srv/alice")
        await store.set_password("alice", "new")
        return [
            await store.authenticate("alice", "old") is None,
            await store.authenticate("alice", "new") is not None,
        ]

    assert run(backend, scenario) == [True, True]


def test_set_password_refuses_empty_and_unknown(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> User | None:
        await store.add("alice", "old", "/srv/alice")
        with pytest.raises(InvalidPasswordError):
            await store.set_password("alice", "")
        with pytest.raises(UnknownUserError):
            await store.set_password("nobody", "new")
        return await store.authenticate("alice", "old")

    assert run(backend, scenario) is not None


def test_set_home_changes_the_home(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> User | None:
        await store.add("alice", "s3cret", "/srv/alice")
        await store.set_home("alice", "/data/alice")
        with pytest.raises(InvalidHomeError):
            await store.set_home("alice", "relative")
        with pytest.raises(UnknownUserError):
            await store.set_home("nobody", "/data/nobody")
        return await store.get("alice")

    user = run(backend, scenario)
    assert user is not None and user.home == "/data/alice"


def test_set_enabled_of_an_unknown_user_fails(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> None:
        with pytest.raises(UnknownUserError):
            await store.set_enabled("nobody", False)

    run(backend, scenario)


# --- password hashes --------------------------------------------------------------------------


def test_the_stored_hash_is_argon2id_and_not_the_password(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> None:
        await store.add("alice", "s3cret-password", "/srv/alice")

    run(backend, scenario)
    stored = backend.stored_password_hash("alice")
    assert stored.startswith("$argon2id$")
    assert "s3cret-password" not in stored


def test_a_weaker_hash_is_upgraded_at_the_next_login(backend: Backend) -> None:
    async def add(store: ClosableUserStore) -> None:
        await store.add("alice", "s3cret", "/srv/alice")

    async def authenticate(store: ClosableUserStore) -> User | None:
        return await store.authenticate("alice", "s3cret")

    run(backend, add, weak_password_hasher())
    weak_hash = backend.stored_password_hash("alice")
    default_hasher = PasswordHasher()
    assert default_hasher.check_needs_rehash(weak_hash)

    assert run(backend, authenticate) is not None
    upgraded_hash = backend.stored_password_hash("alice")
    assert upgraded_hash != weak_hash
    assert upgraded_hash.startswith("$argon2id$")
    assert not default_hasher.check_needs_rehash(upgraded_hash)
    assert run(backend, authenticate) is not None
    assert backend.stored_password_hash("alice") == upgraded_hash  # no rehash when current


def test_a_failed_login_does_not_upgrade_the_hash(backend: Backend) -> None:
    async def add(store: ClosableUserStore) -> None:
        await store.add("alice", "s3cret", "/srv/alice")

    async def authenticate(store: ClosableUserStore) -> User | None:
        return await store.authenticate("alice", "wrong")

    run(backend, add, weak_password_hasher())
    weak_hash = backend.stored_password_hash("alice")
    assert run(backend, authenticate) is None
    assert backend.stored_password_hash("alice") == weak_hash


# --- public keys ------------------------------------------------------------------------------


def test_keys_are_added_in_order_and_returned_with_the_user(backend: Backend) -> None:
    first, second = public_key_line("laptop"), public_key_line()

    async def scenario(store: ClosableUserStore) -> User | None:
        await store.add("alice", "s3cret", "/srv/alice")
        await store.add_key("alice", first)
        await store.add_key("alice", "  " + second + "\n")
        return await store.get("alice")

    user = run(backend, scenario)
    assert user is not None and user.public_keys == (first, second)


def test_a_key_is_refused_twice_for_one_user_but_allowed_for_another(backend: Backend) -> None:
    key_line = public_key_line()

    async def scenario(store: ClosableUserStore) -> list[User]:
        await store.add("alice", "s3cret", "/srv/alice")
        await store.add("bob", "s3cret", "/srv/bob")
        await store.add_key("alice", key_line)
        with pytest.raises(PublicKeyExistsError):
            await store.add_key("alice", key_line)
        await store.add_key("bob", key_line)
        return await store.list()

    assert [user.public_keys for user in run(backend, scenario)] == [(key_line,), (key_line,)]


@pytest.mark.parametrize(
    "key_line",
    [
        "",
        "not a key",
        "ssh-ed25519 AAAA",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK28Z/Ful0UODSnxMCA0TXkr+6eah2YMaVEafTCiis",
        "-----BEGIN PUBLIC KEY-----",
    ],
)
def test_invalid_key_lines_are_refused(backend: Backend, key_line: str) -> None:
    async def scenario(store: ClosableUserStore) -> None:
        await store.add("alice", "s3cret", "/srv/alice")
        with pytest.raises(InvalidPublicKeyError):
            await store.add_key("alice", key_line)

    run(backend, scenario)


def test_two_key_lines_at_once_are_refused(backend: Backend) -> None:
    two_lines = public_key_line() + "\n" + public_key_line()

    async def scenario(store: ClosableUserStore) -> None:
        await store.add("alice", "s3cret", "/srv/alice")
        with pytest.raises(InvalidPublicKeyError):
            await store.add_key("alice", two_lines)

    run(backend, scenario)


def test_delete_key_by_fingerprint_or_by_number(backend: Backend) -> None:
    keys = [public_key_line(f"key{number}") for number in range(4)]

    async def scenario(store: ClosableUserStore) -> User | None:
        await store.add("alice", "s3cret", "/srv/alice")
        for key_line in keys:
            await store.add_key("alice", key_line)
        await store.delete_key("alice", fingerprint_of(keys[1]))  # "SHA256:..."
        await store.delete_key("alice", fingerprint_of(keys[2]).removeprefix("SHA256:"))
        await store.delete_key("alice", 1)  # keys[0], now first
        return await store.get("alice")

    user = run(backend, scenario)
    assert user is not None and user.public_keys == (keys[3],)


def test_delete_key_that_is_not_there_fails(backend: Backend) -> None:
    key_line = public_key_line()

    async def scenario(store: ClosableUserStore) -> User | None:
        await store.add("alice", "s3cret", "/srv/alice")
        await store.add_key("alice", key_line)
        for selector in (0, 2, -1, fingerprint_of(public_key_line()), "SHA256:"):
            with pytest.raises(UnknownPublicKeyError):
                await store.delete_key("alice", selector)
        return await store.get("alice")

    user = run(backend, scenario)
    assert user is not None and user.public_keys == (key_line,)


def test_key_operations_on_an_unknown_user_fail(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> None:
        with pytest.raises(UnknownUserError):
            await store.add_key("nobody", public_key_line())
        with pytest.raises(UnknownUserError):
            await store.delete_key("nobody", 1)

    run(backend, scenario)


def test_deleting_a_user_deletes_their_keys(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> User | None:
        await store.add("alice", "s3cret", "/srv/alice")
        await store.add_key("alice", public_key_line())
        await store.delete("alice")
        await store.add("alice", "s3cret", "/srv/alice")
        return await store.get("alice")

    user = run(backend, scenario)
    assert user is not None and user.public_keys == ()


# --- concurrency and the event loop -----------------------------------------------------------


def test_concurrent_logins_do_not_block_the_event_loop(backend: Backend) -> None:
    async def scenario(store: ClosableUserStore) -> tuple[list[User | None], int]:
        await store.add("alice", "s3cret", "/srv/alice")
        loop_turns = 0
        done = asyncio.Event()

        async def count_loop_turns() -> None:
            nonlocal loop_turns
            while not done.is_set():
                loop_turns += 1
                await asyncio.sleep(0)

        counter = asyncio.create_task(count_loop_turns())
        try:
            results = await asyncio.gather(
                store.authenticate("alice", "s3cret"),
                store.authenticate("alice", "wrong"),
                store.authenticate("bob", "s3cret"),
                store.get("alice"),
                store.list(),
            )
        finally:
            done.set()
            await counter
        logins = [result for result in results[:3] if not isinstance(result, list)]
        return logins, loop_turns

    logins, loop_turns = run(backend, scenario)
    assert [user is not None for user in logins] == [True, False, False]
    assert loop_turns > 10  # the loop kept turning while hashes were checked


def test_a_closed_store_refuses_further_calls(backend: Backend) -> None:
    async def scenario() -> None:
        store = backend.open()
        await store.add("alice", "s3cret", "/srv/alice")
        await store.close()
        await store.close()  # harmless
        with pytest.raises(RuntimeError, match="closed"):
            await store.get("alice")

    asyncio.run(scenario())
