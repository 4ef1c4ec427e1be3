"""Logins for every protocol: the user store, then vsftpd's delays."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from ferryd.audit.records import AuditSink, EventKind, EventRecord
from ferryd.users.model import User
from ferryd.users.store import UserStore


@dataclass(frozen=True)
class LoginRules:
    delay_failed_login: float
    delay_successful_login: float
    max_login_fails: int


class Authenticator:
    """Checks a name and password; failed logins wait delay_failed_login before answering."""

    def __init__(self, store: UserStore, rules: LoginRules, audit: AuditSink) -> None:
        self._store = store
        self._rules = rules
        self._audit = audit

    @property
    def rules(self) -> LoginRules:
        return self._rules

    async def authenticate(
        self, name: str, password: str, *, client_address: str, protocol: str
    ) -> User | None:
        user = await self._store.authenticate(name, password)
        self.record_login(name, user is not None, client_address=client_address,
                          protocol=protocol)
        delay = self._rules.delay_successful_login if user else self._rules.delay_failed_login
        if delay > 0:
            await asyncio.sleep(delay)
        return user

    async def key_holder(self, name: str) -> User | None:
        """The enabled user called `name` when they have public keys (SSH key logins)."""
        user = await self._store.get(name)
        if user is None or not user.enabled or not user.public_keys:
            return None
        return user

    def record_login(self, name: str, ok: bool, *, client_address: str, protocol: str,
                     detail: str = "") -> None:
        """The LOGIN event, for logins decided here or by a key signature (SSH)."""
        self._audit.event(
            EventRecord(
                kind=EventKind.LOGIN, protocol=protocol, user=name,
                client_address=client_address, detail=detail, ok=ok, at=time.time(),
            )
        )
