"""PORT/EPRT arguments in, PASV/EPSV replies out (RFC 959, RFC 2428). Pure."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

# ASCII decimal only: int() would also take " 1", "+1", "1_0" and other scripts' digits
_DECIMAL = re.compile(r"[0-9]{1,5}")


class AddressSyntaxError(ValueError):
    """A PORT or EPRT argument that does not parse."""


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int


def parse_port_argument(argument: str) -> HostPort:
    """`h1,h2,h3,h4,p1,p2` -> HostPort('h1.h2.h3.h4', p1*256+p2)."""
    parts = argument.strip().split(",")
    if len(parts) != 6:
        raise AddressSyntaxError("PORT needs six comma-separated numbers")
    if not all(_DECIMAL.fullmatch(part) for part in parts):
        raise AddressSyntaxError("PORT numbers must be decimal")
    numbers = [int(part) for part in parts]
    if any(not 0 <= number <= 255 for number in numbers):
        raise AddressSyntaxError("PORT numbers must be 0-255")
    port = numbers[4] * 256 + numbers[5]
    if port == 0:
        raise AddressSyntaxError("PORT port must not be 0")
    return HostPort(".".join(map(str, numbers[:4])), port)


def parse_eprt_argument(argument: str) -> HostPort:
    """`|1|132.235.1.2|6275|` or `|2|::1|5282|` (any delimiter from 33 to 126)."""
    text = argument.strip()
    if len(text) < 2:
        raise AddressSyntaxError("EPRT argument too short")
    delimiter = text[0]
    fields = text.split(delimiter)
    if not 33 <= ord(delimiter) <= 126 or len(fields) != 5 or fields[0] or fields[4]:
        raise AddressSyntaxError("EPRT needs |protocol|address|port|")
    family, host, port_text = fields[1], fields[2], fields[3]
    if not _DECIMAL.fullmatch(port_text):
        raise AddressSyntaxError("EPRT port must be decimal")
    port = int(port_text)
    try:
        address = ipaddress.ip_address(host)
    except ValueError as exc:
        raise AddressSyntaxError("EPRT address does not parse") from exc
    if (family, address.version) not in (("1", 4), ("2", 6)):
        raise AddressSyntaxError("EPRT protocol must be 1 (IPv4) or 2 (IPv6)")
    if not 0 < port < 65536:
        raise AddressSyntaxError("EPRT port out of range")
    return HostPort(str(address), port)


def pasv_reply_text(host: str, port: int) -> str:
    numbers = [*host.split("."), str(port // 256), str(port % 256)]
    return f"Entering Passive Mode ({','.join(numbers)})."


def epsv_reply_text(port: int) -> str:
    return f"Entering Extended Passive Mode (|||{port}|)"


def unmapped(host: str) -> str:
    """::ffff:1.2.3.4 -> 1.2.3.4, so an IPv4 client on a dual-stack socket compares equal."""
    if ":" not in host and "%" not in host:
        return host  # IPv4 (which prints as it parses) or not an address: as it is
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def parse_address_map(text: str) -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]]:
    """pasv_address_map: `10.0.0.0/8=10.0.0.5,0.0.0.0/0=203.0.113.10`, most specific first."""
    entries: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        network_text, separator, address_text = item.partition("=")
        try:
            if not separator:
                raise ValueError("missing '='")
            network = ipaddress.ip_network(network_text.strip(), strict=False)
            address = ipaddress.IPv4Address(address_text.strip())
        except ValueError as exc:
            raise AddressSyntaxError(
                f"pasv_address_map entry {item!r}: write NETWORK=IPV4ADDRESS, e.g. "
                f"10.0.0.0/8=10.0.0.5 ({exc})"
            ) from exc
        entries.append((network, str(address)))
    entries.sort(key=lambda entry: entry[0].prefixlen, reverse=True)
    return entries


def address_for_client(
    entries: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]], client: str
) -> str | None:
    """The announced address of the most specific network containing the client, or None."""
    if not entries:
        return None  # no pasv_address_map: every PASV asks, nothing to parse
    try:
        address = ipaddress.ip_address(unmapped(client))
    except ValueError:
        return None
    for network, announced in entries:
        if address.version == network.version and address in network:
            return announced
    return None

