"""vsftpd's userlist and Fedora's userlist_log, in the protocol-neutral Authenticator."""

from __future__ import annotations

import asyncio

from ferryd.audit.records import EventRecord, NullAuditSink
from ferryd.session.login import (
    USERLIST_DENIED,
    USERLIST_NOT_ALLOWED,
    Authenticator,
    LoginRules,
)
from ferryd.users.model import LoginOrigin, User


class RecordingSink(NullAuditSink):
    def __init__(self) -> None:
        self.events: list[EventRecord] = []

    def event(self, record: EventRecord) -> None:
        self.events.append(record)


class OneUserStore:
    async def authenticate(self, name: str, password: str,
                           origin: LoginOrigin | None = None) -> User | None:
        del origin
        return await self.get(name) if password == "right" else None

    async def get(self, name: str) -> User | None:
        return User(name=name, home="/srv", enabled=True, created=0.0)


def rules(**changes: object) -> LoginRules:
    base: dict[str, object] = {"delay_failed_login": 0.0, "delay_successful_login": 0.0,
                               "max_login_fails": 3}
    return LoginRules(**{**base, **changes})  # type: ignore[arg-type]


def test_the_reason_for_each_list_kind() -> None:
    deny = rules(refused_names=frozenset({"bob"}))
    assert deny.userlist_refusal("bob") == USERLIST_DENIED
    assert deny.userlist_refusal("alice") is None
    allow = rules(only_names=frozenset({"alice"}))
    assert allow.userlist_refusal("bob") == USERLIST_NOT_ALLOWED
    assert allow.userlist_refusal("alice") is None


def test_userlist_log_writes_a_failed_login_with_the_reason() -> None:
    for logged in (True, False):
        sink = RecordingSink()
        authenticator = Authenticator(
            (OneUserStore(),), rules(refused_names=frozenset({"bob"}), userlist_log=logged),
            sink,
        )
        assert authenticator.refused_by_userlist("bob", client_address="192.0.2.1",
                                                 protocol="ftp")
        assert not authenticator.refused_by_userlist("alice", client_address="192.0.2.1",
                                                     protocol="ftp")
        refused = asyncio.run(authenticator.authenticate(  # SFTP: at the password
            "bob", "right", client_address="192.0.2.1", protocol="sftp"))
        assert refused is None
        details = [(event.protocol, event.ok, event.detail) for event in sink.events]
        if logged:
            assert details == [("ftp", False, USERLIST_DENIED), ("sftp", False, USERLIST_DENIED)]
        else:
            assert details == [("sftp", False, "")]  # a failed SFTP login is logged anyway
