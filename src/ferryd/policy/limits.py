"""Connection limits (max_clients, max_per_ip) shared by every protocol. Pure bookkeeping."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field


class Refusal(enum.Enum):
    TOO_MANY_CLIENTS = "too many clients"
    TOO_MANY_FROM_ADDRESS = "too many connections from this address"


@dataclass
class ConnectionLimiter:
    """Counts open sessions in total and per client address; 0 means unlimited."""

    max_clients: int
    max_per_ip: int
    _total: int = field(default=0, init=False)
    _per_address: Counter[str] = field(default_factory=Counter, init=False)

    def admit(self, address: str) -> Refusal | None:
        """Count a new connection, or say why it is refused (then nothing is counted)."""
        if self.max_clients and self._total >= self.max_clients:
            return Refusal.TOO_MANY_CLIENTS
        if self.max_per_ip and self._per_address[address] >= self.max_per_ip:
            return Refusal.TOO_MANY_FROM_ADDRESS
        self._total += 1
        self._per_address[address] += 1
        return None

    def release(self, address: str) -> None:
        """Forget one admitted connection; releasing one never admitted changes nothing
        (a second release must not make room for an extra client)."""
        if self._per_address[address] <= 0:
            self._per_address.pop(address, None)
            return
        self._total -= 1
        self._per_address[address] -= 1
        if self._per_address[address] <= 0:
            del self._per_address[address]

    @property
    def total(self) -> int:
        return self._total
