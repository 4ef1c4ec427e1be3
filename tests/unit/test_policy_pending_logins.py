"""max_pending_logins: the longest-waiting connections beyond the limit make room."""

from __future__ import annotations

from ferryd.policy.pending_logins import PendingLogins


def _closer(closed: list[str], name: str) -> object:
    return lambda: closed.append(name)


def test_beyond_the_limit_the_oldest_past_the_grace_are_pushed_out() -> None:
    pending = PendingLogins(limit=2, grace=5)
    closed: list[str] = []
    for number, name in enumerate(["a", "b", "c", "d"]):
        pending.add(name, float(number), _closer(closed, name))  # type: ignore[arg-type]
    assert pending.overdue(now=4.5) == []  # beyond the limit, but nobody waited 5 s yet
    assert [evict() for evict in pending.overdue(now=5.0)] == [None]  # a did; b not yet
    assert closed == ["a"]
    for evict in pending.overdue(now=10):
        evict()
    assert closed == ["a", "b"]
    assert len(pending) == 2


def test_a_burst_younger_than_the_grace_is_never_cut() -> None:
    pending = PendingLogins(limit=10, grace=2)
    for number in range(2000):
        pending.add(number, 100.0 + number / 2000, lambda: None)
    assert pending.overdue(now=101.0) == []
    assert len(pending) == 2000


def test_a_password_sent_stops_the_wait_and_a_failure_starts_it_again() -> None:
    pending = PendingLogins(limit=1, grace=1)
    closed: list[str] = []
    pending.add("old", 0.0, _closer(closed, "old"))  # type: ignore[arg-type]
    pending.add("new", 1.0, _closer(closed, "new"))  # type: ignore[arg-type]
    pending.remove("old")  # PASS arrived: being checked
    pending.remove("old")  # harmless twice
    assert pending.overdue(now=50) == []
    pending.add("old", 40.0, _closer(closed, "old"))  # the login failed: waiting again, newest
    for evict in pending.overdue(now=50):
        evict()
    assert closed == ["new"]


def test_zero_is_no_limit() -> None:
    pending = PendingLogins(limit=0, grace=0)
    for number in range(100):
        pending.add(number, 0.0, lambda: None)
    assert pending.overdue(now=1000) == []
