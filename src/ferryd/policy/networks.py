"""Comma lists of networks in options (ban_allowlist, proxy_protocol_trusted). Pure."""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str | None, option: str) -> tuple[Network, ...]:
    """`10.0.0.0/8,127.0.0.1` -> networks (an address is a /32 or /128); ValueError naming
    the option and the bad entry."""
    networks: list[Network] = []
    for item in (part.strip() for part in (text or "").split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(
                f"{option} entry {item!r} is not a network: write an address or a network, "
                "e.g. 10.0.0.5 or 10.0.0.0/8"
            ) from exc
    return tuple(networks)
