"""pasv_address_map parsing and matching (pure)."""

from __future__ import annotations

import pytest

from ferryd.ftp.proto.addresses import AddressSyntaxError, address_for_client, parse_address_map


def test_most_specific_network_wins_in_any_order() -> None:
    entries = parse_address_map("0.0.0.0/0=203.0.113.10, 10.0.0.0/8=10.0.0.5,10.1.0.0/16=10.1.0.1")
    assert address_for_client(entries, "10.1.2.3") == "10.1.0.1"
    assert address_for_client(entries, "10.2.0.1") == "10.0.0.5"
    assert address_for_client(entries, "198.51.100.7") == "203.0.113.10"
    assert address_for_client(entries, "::ffff:10.2.0.1") == "10.0.0.5"  # IPv4-mapped


def test_ipv6_client_matches_only_ipv6_networks() -> None:
    entries = parse_address_map("2001:db8::/32=192.0.2.9,0.0.0.0/0=192.0.2.1")
    assert address_for_client(entries, "2001:db8::5") == "192.0.2.9"
    assert address_for_client(entries, "2001:dead::5") is None
    assert address_for_client([], "10.0.0.1") is None


@pytest.mark.parametrize(
    "text", ["10.0.0.0/8", "10.0.0.0/8=", "ten/8=10.0.0.1", "10.0.0.0/8=2001:db8::1"]
)
def test_malformed_entries_name_the_fix(text: str) -> None:
    with pytest.raises(AddressSyntaxError, match="NETWORK=IPV4ADDRESS"):
        parse_address_map(text)
