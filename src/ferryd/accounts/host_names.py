"""reverse_lookup_enable: the client's host name for PAM (PAM_RHOST) and utmp/wtmp.

A reverse (PTR) record is chosen by whoever runs the client's network, so a name is used only
when it resolves back to the client's address (forward-confirmed, as OpenSSH's UseDNS does);
otherwise, and whenever the resolver fails or is slow, the address itself is used. The look-up
runs in a worker thread and is given up after LOOKUP_SECONDS, so a dead name server delays a
login by at most that and never blocks the event loop. Log lines always show the address: a
name there would be the client's network's claim, and tools such as fail2ban match addresses.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("ferryd.accounts")

LOOKUP_SECONDS = 2.0
LOOKUP_THREADS = 4
CACHE_SECONDS = 60.0
CACHE_SIZE = 1024

Resolver = Callable[[str], str | None]
"""address -> a forward-confirmed host name, or None; blocking."""


def confirmed_host_name(address: str) -> str | None:
    """The name of `address` when its PTR record names a host that resolves back to it."""
    try:
        name = socket.getnameinfo((address, 0), socket.NI_NAMEREQD)[0]
        forward = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    if any(entry[4][0] == address for entry in forward):
        return name
    log.info("ignored the host name %r of %s: it does not resolve back to the address",
             name, address)
    return None


class HostNames:
    """What PAM and utmp are told the client is: its confirmed name, or its address.

    Look-ups run on threads of their own (a dead name server must not hold the threads that
    file work uses), and each answer is kept for CACHE_SECONDS: a login asks twice (the
    password check, then the session)."""

    def __init__(self, *, reverse_lookup: bool, resolver: Resolver = confirmed_host_name,
                 timeout: float = LOOKUP_SECONDS) -> None:
        self._reverse_lookup = reverse_lookup
        self._resolver = resolver
        self._timeout = timeout
        self._threads = ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="ferryd-dns")
        self._answers: dict[str, tuple[float, str]] = {}

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def remote_host(self, address: str) -> str:
        if not self._reverse_lookup or not address:
            return address
        loop = asyncio.get_running_loop()
        now = loop.time()
        kept = self._answers.get(address)
        if kept is not None and kept[0] > now:
            return kept[1]
        try:
            name = await asyncio.wait_for(
                loop.run_in_executor(self._threads, self._resolver, address), self._timeout
            )
        except TimeoutError:
            log.info("no host name for %s within %.0f s: using the address "
                     "(reverse_lookup_enable=NO skips the look-up)", address, self._timeout)
            name = None
        if len(self._answers) >= CACHE_SIZE:
            self._answers.clear()
        self._answers[address] = (now + CACHE_SECONDS, name or address)
        return name or address
