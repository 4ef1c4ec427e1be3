"""max_pending_logins: how many connections may wait to log in. Pure bookkeeping.

A connection is pending from its accept until it sends a password (while the password is
checked it is not: a slow password hash must not count against the client), and again after
a failed login. Beyond the limit, the connections that have waited longest are pushed out,
but only those waiting for more than a short grace: connections that send nothing (slowloris)
cannot hold more than `limit` places for long, while a burst of real clients, all a moment
old and about to send their password, is never cut.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

PENDING_GRACE_SECONDS = 2.0

Evict = Callable[[], None]


@dataclass
class PendingLogins:
    """Pending connections, oldest first; limit 0 means no limit."""

    limit: int
    grace: float = PENDING_GRACE_SECONDS
    _waiting: OrderedDict[object, tuple[float, Evict]] = field(
        default_factory=OrderedDict, init=False
    )

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, connection: object, now: float, evict: Evict) -> None:
        """`connection` waits to log in from `now`; `evict` closes it if it must make room."""
        self._waiting.pop(connection, None)
        self._waiting[connection] = (now, evict)

    def remove(self, connection: object) -> None:
        """It sent a password, logged in or closed: no longer waiting (repeats are harmless)."""
        self._waiting.pop(connection, None)

    def overdue(self, now: float) -> list[Evict]:
        """Take out the connections beyond the limit that waited past the grace, oldest
        first; the caller closes each with the callback returned."""
        evicted: list[Evict] = []
        while self.limit and len(self._waiting) > self.limit:
            connection, (since, evict) = next(iter(self._waiting.items()))
            if now - since < self.grace:
                break
            del self._waiting[connection]
            evicted.append(evict)
        return evicted
