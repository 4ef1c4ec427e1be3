"""How an SSH connection's refused keys and wrong passwords count (policy/login_attempts.py)."""

from __future__ import annotations

from ferryd.policy.login_attempts import FREE_KEY_OFFERS, LoginAttempts


def test_keys_within_the_allowance_are_free_then_each_counts() -> None:
    attempts = LoginAttempts(max_login_fails=3)
    for _ in range(FREE_KEY_OFFERS):
        attempts.key_rejected()
    assert attempts.failures == 0 and not attempts.limit_reached()
    for expected in (1, 2):
        attempts.key_rejected()
        assert attempts.failures == expected and not attempts.limit_reached()
    attempts.key_rejected()
    assert attempts.limit_reached()


def test_wrong_passwords_count_from_the_first() -> None:
    attempts = LoginAttempts(max_login_fails=2)
    attempts.key_rejected()
    attempts.password_failed()
    assert not attempts.limit_reached()
    attempts.password_failed()
    assert attempts.limit_reached()


def test_no_limit_with_max_login_fails_zero() -> None:
    attempts = LoginAttempts(max_login_fails=0)
    for _ in range(100):
        attempts.key_rejected()
        attempts.password_failed()
    assert not attempts.limit_reached()


def test_a_connection_ending_after_refused_keys_is_one_failed_login() -> None:
    assert not LoginAttempts(3).failed_login_at_close()  # no attempt at all: a scanner
    keys_only = LoginAttempts(3)
    keys_only.key_rejected()
    keys_only.key_rejected()
    assert keys_only.failed_login_at_close()
    with_password = LoginAttempts(3)
    with_password.key_rejected()
    with_password.password_failed()  # counted when it came: not twice
    assert not with_password.failed_login_at_close()
