"""reverse_lookup_enable: the host PAM and utmp are told (accounts/host_names.py)."""

from __future__ import annotations

import asyncio
import threading

from ferryd.accounts.host_names import HostNames, confirmed_host_name


def looked_up(names: HostNames, *addresses: str) -> list[str]:
    async def ask() -> list[str]:
        return [await names.remote_host(address) for address in addresses]

    try:
        return asyncio.run(ask())
    finally:
        names.close()


def test_a_confirmed_name_is_used_and_kept() -> None:
    asked: list[str] = []

    def resolver(address: str) -> str | None:
        asked.append(address)
        return "client.example" if address == "192.0.2.1" else None

    names = HostNames(reverse_lookup=True, resolver=resolver)
    assert looked_up(names, "192.0.2.1", "192.0.2.1", "192.0.2.2") == [
        "client.example", "client.example", "192.0.2.2"]
    assert asked == ["192.0.2.1", "192.0.2.2"]  # the second login of 192.0.2.1: kept


def test_no_lookup_when_switched_off() -> None:
    def resolver(address: str) -> str | None:
        raise AssertionError(f"looked up {address}")

    assert looked_up(HostNames(reverse_lookup=False, resolver=resolver), "192.0.2.1") == [
        "192.0.2.1"]


def test_a_slow_name_server_costs_the_timeout_and_gives_the_address() -> None:
    release = threading.Event()

    def resolver(address: str) -> str | None:
        release.wait(5)
        return "late.example"

    names = HostNames(reverse_lookup=True, resolver=resolver, timeout=0.05)
    try:
        assert looked_up(names, "192.0.2.9") == ["192.0.2.9"]
    finally:
        release.set()


def test_localhost_is_confirmed_and_an_unnamed_address_is_not() -> None:
    assert confirmed_host_name("127.0.0.1") == "localhost"  # /etc/hosts, both ways
    assert confirmed_host_name("192.0.2.77") is None  # TEST-NET-1: no PTR anywhere
