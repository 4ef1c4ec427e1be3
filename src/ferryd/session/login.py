"""Logins for every protocol: the user store, vsftpd's delays, and the shared ban list."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from ferryd.audit.records import AuditSink, EventKind, EventRecord
from ferryd.policy.bans import BanList, BanRules
from ferryd.users.model import User
from ferryd.users.store import UserStore

log = logging.getLogger("ferryd.login")

NO_BANS = BanRules(enabled=False, max_failures=1, window=1, ban_time=1)


@dataclass(frozen=True)
class LoginRules:
    delay_failed_login: float
    delay_successful_login: float
    max_login_fails: int


class Authenticator:
    """Checks a name and password; failed logins wait delay_failed_login before answering."""

    def __init__(
        self, store: UserStore, rules: LoginRules, audit: AuditSink,
        bans: BanRules | None = None,
    ) -> None:
        self._store = store
        self._rules = rules
        self._audit = audit
        self._bans = BanList(bans or NO_BANS, time.monotonic)

    def is_banned(self, client_address: str) -> bool:
        """Whether connections from this address are refused now (ban_enable)."""
        for address in self._bans.expired_bans():
            log.warning("unbanned %s: its ban_time ran out", address)
        return self._bans.is_banned(client_address)

    @property
    def rules(self) -> LoginRules:
        return self._rules

    async def authenticate(
        self, name: str, password: str, *, client_address: str, protocol: str
    ) -> User | None:
        if self._bans.is_banned(client_address):
            user = None  # not even a password check for a banned address
        else:
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
        """The LOGIN event, for logins decided here or by a key signature (SSH); failures
        count towards a ban of the address."""
        if ok:
            self._bans.record_success(client_address)
        elif self._bans.record_failure(client_address):
            rules = self._bans.rules
            log.warning(
                "banned %s for %d s: %d failed logins within %d s (last as %r over %s)",
                client_address, rules.ban_time, rules.max_failures, rules.window, name, protocol,
            )
        self._audit.event(
            EventRecord(
                kind=EventKind.LOGIN, protocol=protocol, user=name,
                client_address=client_address, detail=detail, ok=ok, at=time.time(),
            )
        )
