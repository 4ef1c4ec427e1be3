"""IdleDeadlines: idle_session_timeout for every idle connection with one timer."""

from __future__ import annotations

import asyncio

from ferryd.ftp.idle_deadlines import IdleDeadlines


class Session:
    def __init__(self, ended: asyncio.Event | None = None) -> None:
        self.timed_out = False
        self._ended = ended

    def idle_too_long(self) -> None:
        self.timed_out = True
        if self._ended is not None:
            self._ended.set()


def test_a_deadline_ends_its_session_and_a_removed_one_does_not() -> None:
    async def scenario() -> None:
        deadlines, ended = IdleDeadlines(), asyncio.Event()
        kept, removed = Session(ended), Session()
        deadlines.add(kept, 0)
        deadlines.remove(removed, deadlines.add(removed, 0))
        await asyncio.wait_for(ended.wait(), 30)
        assert kept.timed_out
        assert not removed.timed_out

    asyncio.run(scenario())


def test_later_deadlines_wait_for_their_second() -> None:
    async def scenario() -> None:
        deadlines, ended = IdleDeadlines(), asyncio.Event()
        soon, later = Session(ended), Session()
        deadlines.add(later, 3600)
        deadlines.add(soon, 0)
        await asyncio.wait_for(ended.wait(), 30)
        assert not later.timed_out
        deadlines.close()

    asyncio.run(scenario())


def test_deadlines_round_up_to_the_second_so_none_ends_early() -> None:
    async def scenario() -> None:
        deadlines = IdleDeadlines()
        now = asyncio.get_running_loop().time()
        assert deadlines.add(Session(), 2.5) >= now + 2.5
        deadlines.close()

    asyncio.run(scenario())
