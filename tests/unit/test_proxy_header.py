"""PROXY protocol v1 and v2 headers: byte tables for the pure parser (ferryd.proxy.header)."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferryd.proxy.header import (
    V1_MAX_SIZE,
    V2_MAX_SIZE,
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    ProxyRules,
    header_size,
    looks_like_header,
    parse_header,
    parse_trusted,
)


def v2(command: int, family_transport: int, payload: bytes, *, version: int = 2) -> bytes:
    return V2_SIGNATURE + bytes([version << 4 | command, family_transport]) + struct.pack(
        "!H", len(payload)) + payload


def inet4(source: str, destination: str, sport: int, dport: int) -> bytes:
    return (ipaddress.IPv4Address(source).packed + ipaddress.IPv4Address(destination).packed
            + struct.pack("!HH", sport, dport))


def inet6(source: str, destination: str, sport: int, dport: int) -> bytes:
    return (ipaddress.IPv6Address(source).packed + ipaddress.IPv6Address(destination).packed
            + struct.pack("!HH", sport, dport))


TLVS = bytes([0x20, 0x00, 0x05, 0x01, 0, 0, 0, 0]) + bytes([0x05, 0x00, 0x03]) + b"abc"

VALID = [
    pytest.param(
        b"PROXY TCP4 203.0.113.7 10.0.0.5 51234 21\r\n",
        ProxyHeader(1, "PROXY", ("203.0.113.7", 51234), ("10.0.0.5", 21), 42), id="v1-tcp4"),
    pytest.param(
        b"PROXY TCP6 2001:db8::7 2001:db8::1 65535 990\r\n",
        ProxyHeader(1, "PROXY", ("2001:db8::7", 65535), ("2001:db8::1", 990), 46), id="v1-tcp6"),
    pytest.param(b"PROXY UNKNOWN\r\n", ProxyHeader(1, "PROXY", None, None, 15), id="v1-unknown"),
    pytest.param(
        b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
        ProxyHeader(1, "PROXY", None, None, 59), id="v1-unknown-with-rest-ignored"),
    pytest.param(
        v2(1, 0x11, inet4("198.51.100.9", "192.0.2.1", 40000, 21)),
        ProxyHeader(2, "PROXY", ("198.51.100.9", 40000), ("192.0.2.1", 21), 28), id="v2-tcp4"),
    pytest.param(
        v2(1, 0x21, inet6("2001:db8::9", "2001:db8::1", 1, 2)),
        ProxyHeader(2, "PROXY", ("2001:db8::9", 1), ("2001:db8::1", 2), 52), id="v2-tcp6"),
    pytest.param(
        v2(1, 0x11, inet4("198.51.100.9", "192.0.2.1", 40000, 21) + TLVS),
        ProxyHeader(2, "PROXY", ("198.51.100.9", 40000), ("192.0.2.1", 21), 42),
        id="v2-tlvs-skipped"),
    pytest.param(v2(0, 0x00, b""), ProxyHeader(2, "LOCAL", None, None, 16), id="v2-local"),
    pytest.param(
        v2(0, 0x11, inet4("10.0.0.2", "10.0.0.5", 1, 2)),
        ProxyHeader(2, "LOCAL", None, None, 28), id="v2-local-addresses-ignored"),
    pytest.param(v2(1, 0x00, b""), ProxyHeader(2, "PROXY", None, None, 16), id="v2-unspec"),
    pytest.param(
        v2(1, 0x31, b"/tmp/a".ljust(108, b"\0") + b"/tmp/b".ljust(108, b"\0")),
        ProxyHeader(2, "PROXY", None, None, 232), id="v2-unix"),
]


@pytest.mark.parametrize(("data", "expected"), VALID)
def test_valid_headers(data: bytes, expected: ProxyHeader) -> None:
    assert header_size(data) == expected.size == len(data)
    assert parse_header(data) == expected
    assert looks_like_header(data)


@pytest.mark.parametrize(("data", "_expected"), VALID)
def test_what_follows_the_header_is_not_part_of_it(data: bytes, _expected: object) -> None:
    """An implicit-TLS ClientHello right behind the header."""
    assert header_size(data + b"\x16\x03\x01\x02\x00") == len(data)
    assert parse_header(data + b"\x16\x03\x01").size == len(data)


@pytest.mark.parametrize(("data", "_expected"), VALID)
def test_every_truncation_asks_for_more(data: bytes, _expected: object) -> None:
    for end in range(len(data)):
        assert header_size(data[:end]) is None, end
        with pytest.raises(ProxyHeaderError):
            parse_header(data[:end])


INVALID = [
    pytest.param(b"USER alice\r\n", "no PROXY protocol header", id="ftp-command"),
    pytest.param(b"\x16\x03\x01\x02\x00\x01\x00", "no PROXY protocol header", id="tls-hello"),
    pytest.param(b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "no PROXY", id="v1-lower-case"),
    pytest.param(b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "not TCP4, TCP6", id="v1-protocol"),
    pytest.param(b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "6 fields", id="v1-missing-port"),
    pytest.param(b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "6 fields", id="v1-double-space"),
    pytest.param(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "6 fields", id="v1-extra-field"),
    pytest.param(b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", "does not parse", id="v1-bad-ipv4"),
    pytest.param(b"PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n", "not IPv4", id="v1-tcp4-ipv6"),
    pytest.param(b"PROXY TCP6 1.2.3.4 2001:db8::1 1 2\r\n", "not IPv6", id="v1-tcp6-ipv4"),
    pytest.param(b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "0-65535", id="v1-port-range"),
    pytest.param(b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "0-65535", id="v1-port-sign"),
    pytest.param(b"PROXY TCP4 1.2.3.4 5.6.7.8 \xd9\xa1 2\r\n", "0-65535", id="v1-port-digits"),
    pytest.param(b"PROXY TCP4 \xff.2.3.4 5.6.7.8 1 2\r\n", "does not parse", id="v1-not-ascii"),
    pytest.param(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "without CRLF", id="v1-bare-lf"),
    pytest.param(b"PROXY " + b"A" * (V1_MAX_SIZE - 6), "without CRLF", id="v1-oversized"),
    pytest.param(v2(1, 0x11, b"", version=1), "version 1", id="v2-version-1"),
    pytest.param(v2(1, 0x11, b"", version=3), "version 3", id="v2-version-3"),
    pytest.param(v2(2, 0x11, inet4("1.2.3.4", "5.6.7.8", 1, 2)), "command 2", id="v2-command"),
    pytest.param(v2(1, 0x41, b"x" * 12), "family 4", id="v2-family"),
    pytest.param(v2(1, 0x11, b"x" * 11), "need 12 bytes", id="v2-short-inet"),
    pytest.param(v2(1, 0x21, inet4("1.2.3.4", "5.6.7.8", 1, 2)), "need 36", id="v2-short-inet6"),
    pytest.param(v2(1, 0x12, inet4("1.2.3.4", "5.6.7.8", 1, 2)), "datagram", id="v2-udp"),
    pytest.param(V2_SIGNATURE + b"\x21\x11\xff\xff", "longer than", id="v2-oversized"),
]


@pytest.mark.parametrize(("data", "reason"), INVALID)
def test_invalid_headers(data: bytes, reason: str) -> None:
    with pytest.raises(ProxyHeaderError, match=reason):
        parse_header(data)


def test_garbage_is_refused_as_soon_as_it_cannot_be_a_header() -> None:
    """A peer that sends nothing useful is refused at its first wrong byte, not at a timeout."""
    with pytest.raises(ProxyHeaderError):
        header_size(b"G")
    with pytest.raises(ProxyHeaderError):
        header_size(b"\r\n\r\n\x01")
    assert header_size(b"PRO") is None
    assert header_size(b"\r\n\r\n\x00") is None


def test_largest_accepted_v2_header() -> None:
    payload = inet4("1.2.3.4", "5.6.7.8", 1, 2)
    data = v2(1, 0x11, payload + b"\0" * (V2_MAX_SIZE - 16 - len(payload)))
    assert header_size(data) == V2_MAX_SIZE
    assert parse_header(data).source == ("1.2.3.4", 1)


def test_looks_like_header() -> None:
    assert looks_like_header(b"PROXY TCP4 ")
    assert looks_like_header(V2_SIGNATURE + b"\x21")
    assert not looks_like_header(b"USER alice\r\n")
    assert not looks_like_header(b"PROX")


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    try:
        size = header_size(data)
        if size is not None:
            header = parse_header(data)
            assert header.size == size <= len(data)
    except ProxyHeaderError:
        pass


@given(st.binary(max_size=200))
def test_arbitrary_v2_payloads_never_crash(payload: bytes) -> None:
    for family_transport in (0x00, 0x11, 0x12, 0x21, 0x31, 0x51):
        for command in (0, 1, 3):
            with contextlib.suppress(ProxyHeaderError):
                parse_header(v2(command, family_transport, payload))


def test_trusted_networks() -> None:
    rules = ProxyRules(parse_trusted("10.0.0.5, 192.0.2.0/24,2001:db8::/32"))
    assert rules.trusts("10.0.0.5")
    assert rules.trusts("::ffff:10.0.0.5")  # an IPv4 peer on a dual-stack listener
    assert rules.trusts("192.0.2.200")
    assert rules.trusts("2001:db8::1")
    assert not rules.trusts("10.0.0.6")
    assert not rules.trusts("not an address")
    assert not ProxyRules(()).trusts("10.0.0.5")


def test_bad_trusted_entry_is_named() -> None:
    with pytest.raises(ValueError, match=re.escape("'10.0.0.0/33'")):
        parse_trusted("10.0.0.5,10.0.0.0/33")
