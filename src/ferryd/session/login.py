"""Logins for every protocol: the user store, vsftpd's delays, and the shared ban list."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from ferryd.audit.records import AuditSink, EventKind, EventRecord
from ferryd.policy.bans import BanList, BanRules
from ferryd.users.model import LoginOrigin, User, is_anonymous_name
from ferryd.users.store import UserStore

log = logging.getLogger("ferryd.login")

ANONYMOUS_PROTOCOLS = frozenset({"ftp", "ftps"})
"""Anonymous FTP is FTP's: over SSH the anonymous names are refused like unknown users."""

USERLIST_DENIED = "User is in the deny user list."
USERLIST_NOT_ALLOWED = "User is not in the allow user list."

NO_BANS = BanRules(enabled=False, max_failures=1, window=1, ban_time=1)


@dataclass(frozen=True)
class LoginRules:
    delay_failed_login: float
    delay_successful_login: float
    max_login_fails: int
    refused_names: frozenset[str] = frozenset()
    """userlist_enable with userlist_deny=YES: these names are refused before the password."""
    only_names: frozenset[str] | None = None
    """userlist_enable with userlist_deny=NO: only these names may log in."""
    userlist_log: bool = False
    """Fedora's userlist_log: a name the userlist refuses is logged as a failed login."""

    def userlist_refusal(self, name: str) -> str | None:
        """vsftpd's userlist, checked at USER before any password is asked: why `name` is
        refused (Fedora's vsftpd log texts), or None."""
        if name in self.refused_names:
            return USERLIST_DENIED
        if self.only_names is not None and name not in self.only_names:
            return USERLIST_NOT_ALLOWED
        return None

    def name_refused(self, name: str) -> bool:
        return self.userlist_refusal(name) is not None


class Authenticator:
    """Checks a name and password; failed logins wait delay_failed_login before answering.

    `stores` are asked in order; the first that knows a name decides its login (anonymous
    names, then ferryd's own users, then system accounts with local_enable).
    """

    def __init__(
        self, stores: tuple[UserStore, ...], rules: LoginRules, audit: AuditSink,
        bans: BanRules | None = None, *, anonymous_enabled: bool = False,
        anonymous_without_password: bool = False, ban_list: BanList | None = None,
    ) -> None:
        """`ban_list`: the running one to keep (a reload with unchanged ban rules)."""
        self._stores = stores
        self._anonymous_enabled = anonymous_enabled
        self._anonymous_without_password = anonymous_without_password
        self._rules = rules
        self._audit = audit
        self._bans = ban_list or BanList(bans or NO_BANS, time.monotonic)

    def is_banned(self, client_address: str) -> bool:
        """Whether connections from this address are refused now (ban_enable)."""
        for address in self._bans.expired_bans():
            log.warning("unbanned %s: its ban_time ran out", address)
        return self._bans.is_banned(client_address)

    @property
    def ban_list(self) -> BanList:
        return self._bans

    @property
    def rules(self) -> LoginRules:
        return self._rules

    async def authenticate(
        self, name: str, password: str, *, client_address: str, protocol: str
    ) -> User | None:
        refusal = self._rules.userlist_refusal(name)
        if self._bans.is_banned(client_address) or refusal is not None:
            user = None  # not even a password check for a banned address or a listed name
        else:
            user = await self._check_password(name, password,
                                              LoginOrigin(client_address, protocol))
        if user is not None and user.anonymous and protocol not in ANONYMOUS_PROTOCOLS:
            log.info("refused an anonymous login over %s: anonymous access is FTP's", protocol)
            user = None
        self.record_login(
            name, user is not None, client_address=client_address, protocol=protocol,
            detail=refusal if refusal is not None and self._rules.userlist_log else "",
        )
        delay = self._rules.delay_successful_login if user else self._rules.delay_failed_login
        if delay > 0:
            await asyncio.sleep(delay)
        return user

    def refused_by_userlist(self, name: str, *, client_address: str, protocol: str) -> bool:
        """FTP's USER: whether the userlist refuses `name` before a password is asked. With
        userlist_log=YES the refusal is a FAIL LOGIN line with the reason, as Fedora's vsftpd
        writes it; like vsftpd's, it does not count towards a ban (no password was tried)."""
        refusal = self._rules.userlist_refusal(name)
        if refusal is None:
            return False
        log.info("refused %r from %s: %s (userlist_file)", name, client_address, refusal)
        if self._rules.userlist_log:
            self._log_login(name, False, client_address=client_address, protocol=protocol,
                            detail=refusal)
        return True

    def is_anonymous(self, name: str) -> bool:
        """anonymous_enable=YES and one of the anonymous names (ftp, anonymous)."""
        return self._anonymous_enabled and is_anonymous_name(name)

    async def needs_no_password(self, name: str) -> bool:
        """no_anon_password: an anonymous name logs in at USER, without PASS."""
        if (not self._anonymous_without_password or not self.is_anonymous(name)
                or self._rules.name_refused(name)):
            return False  # other names are never looked up here (a system user's keys file)
        user = await self._find(name)
        return user is not None and user.anonymous

    async def _check_password(self, name: str, password: str,
                              origin: LoginOrigin) -> User | None:
        last = len(self._stores) - 1
        for position, store in enumerate(self._stores):
            if position == last or await store.get(name) is not None:
                return await store.authenticate(name, password, origin)
        return None

    async def _find(self, name: str) -> User | None:
        for store in self._stores:
            user = await store.get(name)
            if user is not None:
                return user
        return None

    async def key_holder(self, name: str) -> User | None:
        """The enabled user called `name` when they have public keys (SSH key logins)."""
        if self._rules.name_refused(name):
            return None
        user = await self._find(name)
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
        self._log_login(name, ok, client_address=client_address, protocol=protocol,
                        detail=detail)

    def _log_login(self, name: str, ok: bool, *, client_address: str, protocol: str,
                   detail: str) -> None:
        self._audit.event(
            EventRecord(
                kind=EventKind.LOGIN, protocol=protocol, user=name,
                client_address=client_address, detail=detail, ok=ok, at=time.time(),
            )
        )
