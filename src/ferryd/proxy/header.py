"""PROXY protocol headers, versions 1 (text) and 2 (binary). Pure: bytes in, a header out.

A proxy or TCP load balancer (HAProxy `send-proxy`/`send-proxy-v2`, cloud balancers with the
PROXY protocol on) sends one header at the very start of the connection, before any byte of the
client's. The header says which client the connection is for. Only peers the operator trusts
may send one (proxy_protocol_trusted): anyone else could claim any address.

    header_size(data)  how long the header at the start of data is (None: not all there yet)
    parse_header(data) the ProxyHeader of data[:header_size(data)]
Both raise ProxyHeaderError for bytes that are not, or cannot become, a valid header.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from ferryd.policy.networks import Network, parse_networks

V1_PREFIX = b"PROXY "
V1_MAX_SIZE = 107  # the spec's bound, CRLF included
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_FIXED_SIZE = 16
V2_MAX_SIZE = 4096  # addresses (at most 216 bytes for AF_UNIX) and TLVs; more is refused
MAX_HEADER_SIZE = max(V1_MAX_SIZE, V2_MAX_SIZE)

_V2_COMMANDS = {0x0: "LOCAL", 0x1: "PROXY"}
_V2_FAMILY_UNSPEC, _V2_FAMILY_INET, _V2_FAMILY_INET6, _V2_FAMILY_UNIX = 0x0, 0x1, 0x2, 0x3
_V2_ADDRESS_SIZES = {_V2_FAMILY_UNSPEC: 0, _V2_FAMILY_INET: 12, _V2_FAMILY_INET6: 36,
                     _V2_FAMILY_UNIX: 216}
_V2_STREAM = 0x1
_PORT = re.compile(rb"[0-9]{1,5}")



class ProxyHeaderError(ValueError):
    """Not a valid PROXY protocol header; the text says what is wrong."""


class ClosedBeforeHeader(ProxyHeaderError):
    """The peer connected and closed without sending a byte (a balancer's TCP health check)."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    version: int  # 1 or 2
    command: str  # "PROXY", or "LOCAL" (v2: the proxy's own connection, a health check)
    source: tuple[str, int] | None
    """The client's address and port; None for LOCAL, UNKNOWN, AF_UNSPEC and AF_UNIX, where
    the connection's own addresses stand (the spec's rule)."""
    destination: tuple[str, int] | None
    """The address and port the client connected to (the proxy's front); None as above."""
    size: int  # bytes the header took, CRLF or TLVs included


def header_size(data: bytes) -> int | None:
    """The size of the header data starts with, or None while more bytes are needed."""
    if data[: len(V2_SIGNATURE)] == V2_SIGNATURE[: len(data)]:
        if len(data) < V2_FIXED_SIZE:
            return None
        if data[12] >> 4 != 2:
            raise ProxyHeaderError(f"PROXY v2 header with version {data[12] >> 4}, not 2")
        size = V2_FIXED_SIZE + int.from_bytes(data[14:16], "big")
        if size > V2_MAX_SIZE:
            raise ProxyHeaderError(
                f"PROXY v2 header of {size} bytes: longer than the {V2_MAX_SIZE} accepted"
            )
        return size if len(data) >= size else None
    if data[: len(V1_PREFIX)] == V1_PREFIX[: len(data)]:
        end = data.find(b"\n", 0, V1_MAX_SIZE)
        if end >= 0:
            if data[end - 1: end] != b"\r":
                raise ProxyHeaderError("PROXY v1 header ends with LF without CRLF")
            return end + 1
        if len(data) >= V1_MAX_SIZE:
            raise ProxyHeaderError(f"PROXY v1 header without CRLF in its first {V1_MAX_SIZE} "
                                   "bytes")
        return None
    raise ProxyHeaderError(f"no PROXY protocol header: the connection starts with {data[:16]!r}")


def parse_header(data: bytes) -> ProxyHeader:
    """The header at the start of data (which must hold all of it; what follows is ignored)."""
    size = header_size(data)
    if size is None:
        raise ProxyHeaderError("PROXY header cut short")
    if data.startswith(V2_SIGNATURE):
        return _parse_v2(data[:size])
    return _parse_v1(data[:size])


def looks_like_header(data: bytes) -> bool:
    """True when data starts with either version's signature (for refusing a header from a
    peer that is not trusted to send one)."""
    return data.startswith(V1_PREFIX) or data.startswith(V2_SIGNATURE)


def _parse_v1(data: bytes) -> ProxyHeader:
    fields = data[:-2].split(b" ")
    protocol = fields[1] if len(fields) > 1 else b""
    if protocol == b"UNKNOWN":  # the rest, if any, is to be ignored
        return ProxyHeader(1, "PROXY", None, None, len(data))
    if protocol not in (b"TCP4", b"TCP6"):
        raise ProxyHeaderError(f"PROXY v1 protocol {protocol[:16]!r}: not TCP4, TCP6 or UNKNOWN")
    if len(fields) != 6:
        raise ProxyHeaderError("PROXY v1 header needs 6 fields separated by single spaces")
    version = 4 if protocol == b"TCP4" else 6
    source, destination = _v1_address(fields[2], version), _v1_address(fields[3], version)
    source_port, destination_port = _v1_port(fields[4]), _v1_port(fields[5])
    return ProxyHeader(1, "PROXY", (source, source_port), (destination, destination_port),
                       len(data))


def _v1_address(text: bytes, version: int) -> str:
    try:
        address = ipaddress.ip_address(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProxyHeaderError(f"PROXY v1 address {text[:45]!r} does not parse") from exc
    if address.version != version:
        raise ProxyHeaderError(f"PROXY v1 address {address} is not IPv{version}")
    return str(address)


def _v1_port(text: bytes) -> int:
    if not _PORT.fullmatch(text) or int(text) > 65535:
        raise ProxyHeaderError(f"PROXY v1 port {text[:8]!r} is not 0-65535")
    return int(text)


def _parse_v2(data: bytes) -> ProxyHeader:
    command = _V2_COMMANDS.get(data[12] & 0x0F)
    if command is None:
        raise ProxyHeaderError(f"PROXY v2 command {data[12] & 0x0F} is neither LOCAL nor PROXY")
    family, transport = data[13] >> 4, data[13] & 0x0F
    needed = _V2_ADDRESS_SIZES.get(family)
    if needed is None:
        raise ProxyHeaderError(f"PROXY v2 address family {family} is unknown")
    payload = data[V2_FIXED_SIZE:]
    if len(payload) < needed:
        raise ProxyHeaderError(
            f"PROXY v2 addresses need {needed} bytes, the header has {len(payload)}"
        )
    # LOCAL: the proxy speaks for itself (health checks); addresses, if any, are ignored.
    # AF_UNSPEC and AF_UNIX carry no address an IP rule could use: the connection's own stand.
    if command == "LOCAL" or family in (_V2_FAMILY_UNSPEC, _V2_FAMILY_UNIX):
        return ProxyHeader(2, command, None, None, len(data))
    if transport != _V2_STREAM:
        raise ProxyHeaderError("PROXY v2 header for a datagram (UDP) connection")
    width = 4 if family == _V2_FAMILY_INET else 16
    addresses = payload[: 2 * width]
    ports = payload[2 * width: 2 * width + 4]
    source = ipaddress.ip_address(addresses[:width])
    destination = ipaddress.ip_address(addresses[width:])
    return ProxyHeader(
        2, command,
        (str(source), int.from_bytes(ports[:2], "big")),
        (str(destination), int.from_bytes(ports[2:], "big")),
        len(data),
    )  # TLVs after the addresses (SSL details, unique ids, ...) are skipped


def parse_trusted(text: str | None) -> tuple[Network, ...]:
    """proxy_protocol_trusted: `10.0.0.5,192.0.2.0/24` -> networks; ValueError naming the
    bad entry."""
    return parse_networks(text, "proxy_protocol_trusted")


@dataclass(frozen=True)
class ProxyRules:
    """Who may send a PROXY header, and how long one may take to arrive."""

    trusted: tuple[Network, ...]
    timeout: float = 10.0

    def trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == network.version and ip in network for network in self.trusted)
