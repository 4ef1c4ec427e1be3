"""Brute-force defence shared by every protocol: an address with too many failed logins in
a window is banned for a while. Pure bookkeeping; the clock is injected."""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ferryd.policy.networks import Network, parse_networks


def parse_allowlist(text: str | None) -> tuple[Network, ...]:
    """ban_allowlist: `10.0.0.0/8,127.0.0.1` -> networks; ValueError naming the bad entry."""
    return parse_networks(text, "ban_allowlist")


@dataclass(frozen=True)
class BanRules:
    enabled: bool
    max_failures: int
    window: float
    ban_time: float
    allowlist: tuple[Network, ...] = ()

    def exempt(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip.version == net.version and ip in net for net in self.allowlist)


@dataclass
class BanList:
    """Failed logins per address within the window, and the bans they caused."""

    rules: BanRules
    clock: Callable[[], float]
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _banned_until: dict[str, float] = field(default_factory=dict)

    def is_banned(self, address: str) -> bool:
        until = self._banned_until.get(address)
        if until is None:
            return False
        if self.clock() >= until:
            del self._banned_until[address]
            return False
        return True

    def expired_bans(self) -> list[str]:
        """Addresses whose ban has run out (removed now), for the unban log line."""
        now = self.clock()
        ended = [address for address, until in self._banned_until.items() if now >= until]
        for address in ended:
            del self._banned_until[address]
        return ended

    def record_failure(self, address: str) -> bool:
        """Count a failed login; True when this failure bans the address."""
        rules = self.rules
        if not rules.enabled or rules.exempt(address) or self.is_banned(address):
            return False
        now = self.clock()
        times = self._failures.setdefault(address, deque())
        times.append(now)
        while times and times[0] <= now - rules.window:
            times.popleft()
        if len(times) < rules.max_failures:
            return False
        del self._failures[address]
        self._banned_until[address] = now + rules.ban_time
        return True

    def record_success(self, address: str) -> None:
        self._failures.pop(address, None)
