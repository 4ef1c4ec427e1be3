"""Comma lists of networks in options: addresses, networks, and the error that names both."""

from __future__ import annotations

import ipaddress

import pytest

from ferryd.policy.networks import parse_networks


def test_addresses_and_networks() -> None:
    assert parse_networks(" 10.0.0.0/8, 127.0.0.1,,::1 ", "ban_allowlist") == (
        ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("::1/128"),
    )
    assert parse_networks(None, "ban_allowlist") == ()


def test_a_bad_entry_names_the_option_and_the_entry() -> None:
    with pytest.raises(ValueError, match=r"proxy_protocol_trusted entry '10\.0\.0\.300'"):
        parse_networks("10.0.0.1,10.0.0.300", "proxy_protocol_trusted")
