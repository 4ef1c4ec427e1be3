"""The ban list: failures within the window ban an address for ban_time; allowlist exempt."""

from __future__ import annotations

import pytest

from ferryd.policy.bans import BanList, BanRules, parse_allowlist


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _bans(clock: Clock, allowlist: str | None = None) -> BanList:
    rules = BanRules(enabled=True, max_failures=3, window=60, ban_time=300,
                     allowlist=parse_allowlist(allowlist))
    return BanList(rules, clock)


def test_third_failure_in_the_window_bans_until_ban_time_passes() -> None:
    clock = Clock()
    bans = _bans(clock)
    assert not bans.record_failure("192.0.2.7")
    clock.now += 10
    assert not bans.record_failure("192.0.2.7")
    assert not bans.is_banned("192.0.2.7")
    assert bans.record_failure("192.0.2.7")
    assert bans.is_banned("192.0.2.7") and not bans.is_banned("192.0.2.8")
    clock.now += 299
    assert bans.is_banned("192.0.2.7")
    clock.now += 2
    assert bans.expired_bans() == ["192.0.2.7"]
    assert not bans.is_banned("192.0.2.7")


def test_failures_outside_the_window_do_not_add_up() -> None:
    clock = Clock()
    bans = _bans(clock)
    for _ in range(5):
        assert not bans.record_failure("192.0.2.7")
        clock.now += 31  # at most two failures in any 60 s
    assert not bans.is_banned("192.0.2.7")


def test_success_resets_and_allowlist_and_disabled_never_ban() -> None:
    clock = Clock()
    bans = _bans(clock, "10.0.0.0/8, 2001:db8::/32")
    bans.record_failure("192.0.2.7")
    bans.record_failure("192.0.2.7")
    bans.record_success("192.0.2.7")
    assert not bans.record_failure("192.0.2.7")
    for _ in range(10):
        assert not bans.record_failure("10.1.2.3")
        assert not bans.record_failure("2001:db8::1")
    off = BanList(BanRules(enabled=False, max_failures=1, window=60, ban_time=60), clock)
    assert not off.record_failure("192.0.2.7") and not off.is_banned("192.0.2.7")


def test_bad_allowlist_names_the_entry() -> None:
    with pytest.raises(ValueError, match="'ten/8'"):
        parse_allowlist("10.0.0.0/8,ten/8")
