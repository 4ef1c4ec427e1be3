"""PORT/EPRT arguments in, PASV/EPSV reply text out, IPv4-mapped addresses unmapped."""

from __future__ import annotations

import ipaddress

import pytest

from ferryd.ftp.proto.addresses import (
    AddressSyntaxError,
    HostPort,
    address_for_client,
    epsv_reply_text,
    parse_address_map,
    parse_eprt_argument,
    parse_port_argument,
    pasv_reply_text,
    unmapped,
)


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("127,0,0,1,4,1", HostPort("127.0.0.1", 1025)),
        ("192,168,1,20,255,255", HostPort("192.168.1.20", 65535)),
        ("10,0,0,1,0,1", HostPort("10.0.0.1", 1)),
        (" 10,0,0,1,0,21 ", HostPort("10.0.0.1", 21)),  # spaces around the whole
        ("010,000,000,001,004,001", HostPort("10.0.0.1", 1025)),  # leading zeros
    ],
)
def test_port_parses(argument: str, expected: HostPort) -> None:
    assert parse_port_argument(argument) == expected


@pytest.mark.parametrize(
    "argument",
    [
        "",
        "127,0,0,1,4",  # five numbers
        "127,0,0,1,4,1,2",  # seven
        "127.0.0.1,4,1",
        "127,0,0,1,4,256",
        "256,0,0,1,4,1",
        "127,0,0,-1,4,1",
        "127,0,0,1,+4,1",
        "127,0,0,1,4 ,1",  # a space inside
        "127,0,0,1,1_0,1",  # int() would take it as 10
        "127,0,0,\u0661,4,1",  # ARABIC-INDIC DIGIT ONE: int() would take it
        "127,0,0,1,0x4,1",
        "127,0,0,1,,1",
        "127,0,0,1,0,0",  # port 0
        "a,b,c,d,e,f",
    ],
)
def test_malformed_port_is_refused(argument: str) -> None:
    with pytest.raises(AddressSyntaxError):
        parse_port_argument(argument)


def test_address_syntax_error_is_a_value_error() -> None:
    assert issubclass(AddressSyntaxError, ValueError)


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("|1|132.235.1.2|6275|", HostPort("132.235.1.2", 6275)),
        ("|2|1080::8:800:200C:417A|5282|", HostPort("1080::8:800:200c:417a", 5282)),
        ("|2|::1|65535|", HostPort("::1", 65535)),
        ("!1!10.0.0.1!21!", HostPort("10.0.0.1", 21)),  # any delimiter 33-126
        ("~2~::1~21~", HostPort("::1", 21)),
        (" |1|10.0.0.1|1| ", HostPort("10.0.0.1", 1)),
        ("|2|::ffff:10.0.0.1|2000|", HostPort("::ffff:a00:1", 2000)),  # mapped, family 2
        ("|2|fe80::1%eth0|2000|", HostPort("fe80::1%eth0", 2000)),  # a scope is kept
    ],
)
def test_eprt_parses(argument: str, expected: HostPort) -> None:
    assert parse_eprt_argument(argument) == expected


@pytest.mark.parametrize(
    "argument",
    [
        "",
        "|",
        "|1|10.0.0.1|21",  # no closing delimiter
        "1|10.0.0.1|21|",  # no opening delimiter
        "|1|10.0.0.1|21|x",
        "|1|10.0.0.1|21||",
        "|1|10.0.0.1|0|",
        "|1|10.0.0.1|65536|",
        "|1|10.0.0.1|+21|",  # int() would take these three
        "|1|10.0.0.1| 21|",
        "|1|10.0.0.1|2_1|",
        "|1|10.0.0.1|\u0662\u0661|",
        "|1|10.0.0.1||",
        "|1|::1|21|",  # family 1 with IPv6
        "|2|10.0.0.1|21|",  # family 2 with IPv4
        "|3|10.0.0.1|21|",
        "||10.0.0.1|21|",
        "|1|10.0.0.256|21|",
        "|1|localhost|21|",
        "|1|010.0.0.1|21|",  # leading zeros are ambiguous (octal?): ipaddress refuses
        " 1 10.0.0.1 21 ",  # space is no delimiter (32)
        "\x7f1\x7f10.0.0.1\x7f21\x7f",  # DEL is not either (127)
        "\u00e91\u00e910.0.0.1\u00e921\u00e9",
    ],
)
def test_malformed_eprt_is_refused(argument: str) -> None:
    with pytest.raises(AddressSyntaxError):
        parse_eprt_argument(argument)


@pytest.mark.parametrize(
    ("host", "port", "text"),
    [
        ("192.168.1.20", 1025, "Entering Passive Mode (192,168,1,20,4,1)."),
        ("10.0.0.1", 65535, "Entering Passive Mode (10,0,0,1,255,255)."),
        ("127.0.0.1", 256, "Entering Passive Mode (127,0,0,1,1,0)."),
        ("127.0.0.1", 255, "Entering Passive Mode (127,0,0,1,0,255)."),
    ],
)
def test_pasv_reply_text(host: str, port: int, text: str) -> None:
    assert pasv_reply_text(host, port) == text
    # and a client reading it gets the same address back
    numbers = text[text.index("(") + 1 : text.index(")")]
    assert parse_port_argument(numbers) == HostPort(host, port)


@pytest.mark.parametrize("port", [1, 1025, 65535])
def test_epsv_reply_text(port: int) -> None:
    assert epsv_reply_text(port) == f"Entering Extended Passive Mode (|||{port}|)"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("::FFFF:10.0.0.1", "10.0.0.1"),
        ("1.2.3.4", "1.2.3.4"),
        ("::1", "::1"),
        ("2001:DB8::1", "2001:db8::1"),  # normalised, so it compares equal
        ("fe80::1%eth0", "fe80::1"),  # the scope is dropped
        ("::ffff:1.2.3.4%lo", "1.2.3.4"),
        ("not-an-address", "not-an-address"),
        ("", ""),
    ],
)
def test_unmapped(host: str, expected: str) -> None:
    assert unmapped(host) == expected


def test_address_map_most_specific_network_wins() -> None:
    entries = parse_address_map(
        " 0.0.0.0/0=203.0.113.10, 10.0.0.0/8=10.0.0.5,,10.1.0.0/16=10.1.0.5"
    )
    assert [str(network) for network, _ in entries] == ["10.1.0.0/16", "10.0.0.0/8", "0.0.0.0/0"]
    assert address_for_client(entries, "10.1.2.3") == "10.1.0.5"
    assert address_for_client(entries, "::ffff:10.2.0.1") == "10.0.0.5"
    assert address_for_client(entries, "198.51.100.7") == "203.0.113.10"
    assert address_for_client(entries, "2001:db8::1") is None  # no IPv6 network
    assert address_for_client(entries, "garbage") is None
    assert parse_address_map("") == []
    v6 = parse_address_map("2001:db8::/32=192.0.2.1")
    assert v6 == [(ipaddress.ip_network("2001:db8::/32"), "192.0.2.1")]
    assert address_for_client(v6, "2001:db8::5") == "192.0.2.1"


@pytest.mark.parametrize(
    "text", ["10.0.0.0/8", "10.0.0.0/8=", "10.0.0.0/33=1.2.3.4", "x=1.2.3.4", "::/0=::1"]
)
def test_malformed_address_map_is_refused_with_the_fix(text: str) -> None:
    with pytest.raises(AddressSyntaxError, match="write NETWORK=IPV4ADDRESS"):
        parse_address_map(text)
