"""idle_session_timeout for every idle control connection with one asyncio timer.

An asyncio timer per idle connection (a TimerHandle, its bound callback and its place in the
loop's heap) is about 250 bytes of each idle session. Here the connections whose deadlines fall
in the same whole second share a set, and one timer fires for the earliest second; a session
therefore times out up to one second after its idle_session_timeout, never before.
"""

from __future__ import annotations

import asyncio
import math
from typing import Protocol

# asyncio runs a timer up to its clock resolution early: a second counts as reached this close
_EARLY = 0.01


class Idle(Protocol):
    def idle_too_long(self) -> None:
        """Its deadline passed: end the session."""


class IdleDeadlines:
    """Deadlines of idle connections, by the whole second (of the loop's clock) they fall in."""

    def __init__(self) -> None:
        self._due: dict[int, set[Idle]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, connection: Idle, delay: float) -> int:
        """Call `connection.idle_too_long()` in `delay` seconds (rounded up to the second)
        unless removed; returns the second, which `remove` takes."""
        loop = asyncio.get_running_loop()
        second = math.ceil(loop.time() + delay)
        self._due.setdefault(second, set()).add(connection)
        if self._timer is None or second < self._timer.when():
            self._schedule(loop, second)
        return second

    def remove(self, connection: Idle, second: int) -> None:
        connections = self._due.get(second)
        if connections is not None:
            connections.discard(connection)
            if not connections:
                del self._due[second]  # the timer may fire for nothing; it then re-arms

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._due.clear()

    def _schedule(self, loop: asyncio.AbstractEventLoop, second: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(second, self._fire)

    def _fire(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time() + _EARLY
        for second in sorted(second for second in self._due if second <= now):
            for connection in self._due.pop(second):
                connection.idle_too_long()
        if self._due:
            self._schedule(loop, min(self._due))
