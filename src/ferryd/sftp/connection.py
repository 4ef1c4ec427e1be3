"""One SSH connection: admission (max_clients, max_per_ip), login, idle timeout.

asyncssh makes one SftpConnection per TCP connection (its SSHServer). The SFTP and SCP
sessions on that connection ask it who logged in and report activity to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncssh

from ferryd.policy.limits import ConnectionLimiter, Refusal
from ferryd.policy.login_attempts import LoginAttempts
from ferryd.policy.pending_logins import PendingLogins
from ferryd.sftp.authorized_keys import authorized_keys
from ferryd.sftp.services import SftpServices
from ferryd.users.model import User

log = logging.getLogger("ferryd.sftp")

LOGIN_PROTOCOL = "sftp"

_REFUSALS = {
    Refusal.TOO_MANY_CLIENTS: "There are too many connected users, please try later.",
    Refusal.TOO_MANY_FROM_ADDRESS: "There are too many connections from your internet address.",
}


def client_address(conn: asyncssh.SSHServerConnection) -> str:
    peer = conn.get_extra_info("peername") or ("?", 0)
    address = str(peer[0])
    return address[7:] if address.startswith("::ffff:") and "." in address else address


class SftpConnection(asyncssh.SSHServer):
    """Admission, authentication and idle time of one SSH connection."""

    def __init__(
        self, services: SftpServices, limiter: ConnectionLimiter,
        live: set[SftpConnection],
        new_session: Callable[[], asyncssh.SSHServerSession[bytes]],
        pending_logins: PendingLogins | None = None,
    ) -> None:
        self._services = services
        self._pending_logins = PendingLogins(0) if pending_logins is None else pending_logins
        self._new_session = new_session
        self._limiter = limiter
        self._live = live
        self._conn: asyncssh.SSHServerConnection | None = None
        self._address = "?"
        self._refusal: Refusal | None = None
        self._admitted = False
        self._user: User | None = None
        self._key_user: User | None = None
        self._username = ""
        self._attempts = LoginAttempts(services.authenticator.rules.max_login_fails)
        self._loop = asyncio.get_running_loop()
        self._last_activity = self._loop.time()
        self._idle_timer: asyncio.TimerHandle | None = None
        self._open_files = 0
        self.transfers_done = asyncio.Event()
        self.transfers_done.set()

    # -- what the SFTP and SCP sessions ask ---------------------------------------------
    @property
    def user(self) -> User | None:
        return self._user

    @property
    def address(self) -> str:
        return self._address

    def touch(self) -> None:
        """A request arrived: the connection is not idle."""
        self._last_activity = self._loop.time()

    def file_opened(self) -> None:
        self._open_files += 1
        self.transfers_done.clear()

    def file_closed(self) -> None:
        self._open_files = max(0, self._open_files - 1)
        if not self._open_files:
            self.transfers_done.set()

    def disconnect(self, reason: str, code: int = asyncssh.DISC_BY_APPLICATION) -> None:
        if self._conn is not None:
            self._conn.disconnect(code, reason)

    async def wait_closed(self) -> None:
        if self._conn is not None:
            await self._conn.wait_closed()

    # -- connection life ----------------------------------------------------------------
    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._address = client_address(conn)
        now = self._loop.time()
        for evict in self._pending_logins.overdue(now):
            evict()  # max_pending_logins: make room before counting this one
        self._refusal = self._limiter.admit(self._address)
        self._admitted = self._refusal is None
        self._live.add(self)
        if self._admitted:
            self._pending_logins.add(self, now, self._evict)

    def _evict(self) -> None:
        log.info("%s: waited too long to log in (max_pending_logins)", self._address)
        self.disconnect("Too many connections waiting to log in; try again.",
                        asyncssh.DISC_TOO_MANY_CONNECTIONS)

    def connection_lost(self, exc: Exception | None) -> None:
        del exc
        self._pending_logins.remove(self)
        if self._user is None and self._attempts.failed_login_at_close():
            log.info("%s: closed without logging in as %r after %d public key(s) that are "
                     "not authorized: one failed login", self._address, self._username,
                     self._attempts.rejected_keys)
            self._services.authenticator.record_login(
                self._username, False, client_address=self._address, protocol=LOGIN_PROTOCOL,
                detail="publickey",
            )
        if self._admitted:
            self._admitted = False
            self._limiter.release(self._address)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._live.discard(self)
        self._open_files = 0
        self.transfers_done.set()
        self._conn = None

    def _arm_idle_timer(self, delay: float) -> None:
        if self._services.idle_timeout > 0:
            self._idle_timer = self._loop.call_later(delay, self._check_idle)

    def _check_idle(self) -> None:
        self._idle_timer = None
        idle = self._loop.time() - self._last_activity
        timeout = self._services.idle_timeout
        if idle >= timeout:
            log.info("%s: idle for %.0f s, disconnecting", self._address, idle)
            self.disconnect("Timeout: idle for too long (idle_session_timeout).")
            return
        self._arm_idle_timer(timeout - idle)

    def session_requested(self) -> asyncssh.SSHServerSession[bytes] | bool:
        """A session channel (SFTP, SCP, or something refused with a message)."""
        if self._user is None:
            return False
        self.touch()
        return self._new_session()

    # -- authentication -----------------------------------------------------------------
    async def begin_auth(self, username: str) -> bool:
        services = self._services
        if self._refusal is not None:
            self.disconnect(_REFUSALS[self._refusal], asyncssh.DISC_TOO_MANY_CONNECTIONS)
            return True
        if services.authenticator.is_banned(self._address):  # ban_enable: FTP's list too
            self.disconnect("Too many failed logins from your address; try later.",
                            asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE)
            return True
        self._key_user = None  # a client may change the name between attempts
        self._username = username
        if self._conn is not None:
            self._conn.set_authorized_keys(None)
        if services.banner and self._conn is not None:
            self._conn.send_auth_banner(services.banner.replace("\\n", "\n") + "\n")
        if services.pubkey_auth and self._conn is not None:
            holder = await services.authenticator.key_holder(username)
            keys = await asyncio.to_thread(authorized_keys, holder.public_keys) if holder else None
            if holder is not None and keys is not None:
                self._key_user = holder
                self._conn.set_authorized_keys(keys)
        return True

    def password_auth_supported(self) -> bool:
        return self._services.password_auth and self._refusal is None

    def public_key_auth_supported(self) -> bool:
        return self._services.pubkey_auth and self._refusal is None

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        """Only keys set in begin_auth (the user's authorized keys) are trusted: asyncssh
        asks here about any other key offered, which is refused and counted
        (policy/login_attempts.py says how)."""
        del username, key
        self._attempts.key_rejected()
        self._close_at_limit()
        return False

    def _close_at_limit(self) -> None:
        if self._attempts.limit_reached():
            self.disconnect("Too many failed logins.",
                            asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE)

    async def validate_password(self, username: str, password: str) -> bool:
        authenticator = self._services.authenticator
        self._pending_logins.remove(self)  # being checked: a slow hash is not the client's
        user = await authenticator.authenticate(
            username, password, client_address=self._address, protocol=LOGIN_PROTOCOL
        )
        if user is not None:
            self._user = user
            return True
        if self._conn is not None:
            self._pending_logins.add(self, self._loop.time(), self._evict)
        self._attempts.password_failed()
        self._close_at_limit()
        return False

    def auth_completed(self) -> None:
        self._pending_logins.remove(self)
        if self._user is None and self._key_user is not None:
            self._user = self._key_user
            self._services.authenticator.record_login(
                self._user.name, True, client_address=self._address,
                protocol=LOGIN_PROTOCOL, detail="publickey",
            )
        self.touch()  # idle time counts from the login; before it, the login grace time
        self._arm_idle_timer(self._services.idle_timeout)
