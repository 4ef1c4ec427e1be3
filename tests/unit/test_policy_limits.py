"""max_clients and max_per_ip bookkeeping, shared by every protocol."""

from __future__ import annotations

import pytest

from ferryd.policy.limits import ConnectionLimiter, Refusal


def test_max_clients_counts_every_address() -> None:
    limiter = ConnectionLimiter(max_clients=2, max_per_ip=0)
    assert limiter.admit("10.0.0.1") is None
    assert limiter.admit("10.0.0.2") is None
    assert limiter.admit("10.0.0.3") is Refusal.TOO_MANY_CLIENTS
    assert limiter.total == 2
    limiter.release("10.0.0.1")
    assert limiter.total == 1
    assert limiter.admit("10.0.0.3") is None
    assert limiter.total == 2


def test_max_per_ip_counts_one_address() -> None:
    limiter = ConnectionLimiter(max_clients=0, max_per_ip=2)
    assert limiter.admit("10.0.0.1") is None
    assert limiter.admit("10.0.0.1") is None
    assert limiter.admit("10.0.0.1") is Refusal.TOO_MANY_FROM_ADDRESS
    assert limiter.admit("10.0.0.2") is None  # another address is not affected
    assert limiter.total == 3
    limiter.release("10.0.0.1")
    assert limiter.admit("10.0.0.1") is None
    assert limiter.admit("10.0.0.1") is Refusal.TOO_MANY_FROM_ADDRESS


def test_a_refused_connection_is_not_counted() -> None:
    limiter = ConnectionLimiter(max_clients=1, max_per_ip=1)
    assert limiter.admit("a") is None
    for _ in range(5):
        assert limiter.admit("a") is Refusal.TOO_MANY_CLIENTS  # the total is checked first
        assert limiter.admit("b") is Refusal.TOO_MANY_CLIENTS
    assert limiter.total == 1
    limiter.release("a")
    assert limiter.total == 0
    assert limiter.admit("b") is None


def test_zero_means_unlimited() -> None:
    limiter = ConnectionLimiter(max_clients=0, max_per_ip=0)
    for _ in range(1000):
        assert limiter.admit("10.0.0.1") is None
    assert limiter.total == 1000


def test_release_of_a_connection_never_admitted_changes_nothing() -> None:
    limiter = ConnectionLimiter(max_clients=1, max_per_ip=1)
    assert limiter.admit("a") is None
    limiter.release("b")  # never admitted
    assert limiter.total == 1
    assert limiter.admit("c") is Refusal.TOO_MANY_CLIENTS


def test_a_double_release_does_not_make_room_for_an_extra_client() -> None:
    limiter = ConnectionLimiter(max_clients=2, max_per_ip=0)
    assert limiter.admit("a") is None
    assert limiter.admit("b") is None
    limiter.release("a")
    limiter.release("a")  # a driver's cleanup running twice
    assert limiter.total == 1
    assert limiter.admit("c") is None
    assert limiter.admit("d") is Refusal.TOO_MANY_CLIENTS


def test_counters_are_not_constructor_arguments_and_not_shared() -> None:
    with pytest.raises(TypeError):
        ConnectionLimiter(1, 1, 5)  # type: ignore[call-arg]
    first, second = ConnectionLimiter(1, 1), ConnectionLimiter(1, 1)
    assert first.admit("a") is None
    assert second.admit("a") is None  # no state shared between limiters


def test_refusal_texts() -> None:
    assert Refusal.TOO_MANY_CLIENTS.value == "too many clients"
    assert Refusal.TOO_MANY_FROM_ADDRESS.value == "too many connections from this address"
