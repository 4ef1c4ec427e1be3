"""The address PASV announces: pasv_address (an IP, or a name re-resolved every
pasv_addr_refresh seconds), or per client network with pasv_address_map."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket

from ferryd.ftp.proto.addresses import address_for_client

log = logging.getLogger("ferryd.ftp")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class PassiveAddressError(Exception):
    """pasv_address cannot be resolved; the text names it."""


async def resolve_ipv4(name: str) -> str:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(name, None, family=socket.AF_INET,
                                       type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise PassiveAddressError(
            f"pasv_address={name}: cannot resolve this name ({exc.strerror})"
        ) from exc
    return str(infos[0][4][0])


class PassiveAddress:
    """Answers "which address do I announce to this client?"."""

    def __init__(
        self, *, address: str | None, resolve: bool, network_map: list[tuple[Network, str]]
    ) -> None:
        self._name = address if resolve else None
        self._address = None if resolve else address
        self._network_map = network_map

    async def start(self) -> None:
        """Resolve a host name once, at start-up (errors stop the start)."""
        if self._name:
            self._address = await resolve_ipv4(self._name)

    async def refresh_forever(self, interval: float) -> None:
        """Re-resolve the name every `interval` seconds (dynamic DNS); keep the last good one."""
        if not self._name or interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            try:
                address = await resolve_ipv4(self._name)
            except PassiveAddressError as exc:
                log.warning("%s; still announcing %s", exc, self._address)
                continue
            if address != self._address:
                log.info("pasv_address %s now resolves to %s", self._name, address)
                self._address = address

    def for_client(self, client_address: str) -> str | None:
        return address_for_client(self._network_map, client_address) or self._address
