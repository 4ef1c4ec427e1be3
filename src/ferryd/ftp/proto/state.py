"""The control connection's state machine, as a table. Pure."""

from __future__ import annotations

import enum


class State(enum.Enum):
    AWAIT_USER = "await_user"
    AWAIT_PASS = "await_pass"
    LOGGED_IN = "logged_in"
    RENAME_PENDING = "rename_pending"  # RNFR accepted; only RNTO may use it
    TLS_PAUSED = "tls_paused"  # AUTH accepted; the driver is doing the TLS handshake
    CLOSED = "closed"


class Transition(enum.Enum):
    USER_ACCEPTED = "user_accepted"
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGGED_OUT = "logged_out"  # REIN
    TLS_STARTING = "tls_starting"
    TLS_ESTABLISHED = "tls_established"
    RENAME_SOURCE_ACCEPTED = "rename_source_accepted"
    RENAME_CLEARED = "rename_cleared"  # any command after RNFR that is not RNTO, or RNTO done
    CLOSE = "close"


class InvalidTransition(Exception):
    """The driver reported an outcome the current state cannot have produced."""


_S, _T = State, Transition

TRANSITIONS: dict[tuple[State, Transition], State] = {
    (_S.AWAIT_USER, _T.USER_ACCEPTED): _S.AWAIT_PASS,
    (_S.AWAIT_PASS, _T.USER_ACCEPTED): _S.AWAIT_PASS,
    (_S.AWAIT_PASS, _T.LOGIN_SUCCEEDED): _S.LOGGED_IN,
    (_S.AWAIT_PASS, _T.LOGIN_FAILED): _S.AWAIT_USER,
    (_S.AWAIT_USER, _T.LOGIN_FAILED): _S.AWAIT_USER,
    (_S.AWAIT_USER, _T.TLS_STARTING): _S.TLS_PAUSED,
    (_S.AWAIT_PASS, _T.TLS_STARTING): _S.TLS_PAUSED,
    (_S.TLS_PAUSED, _T.TLS_ESTABLISHED): _S.AWAIT_USER,
    (_S.LOGGED_IN, _T.RENAME_SOURCE_ACCEPTED): _S.RENAME_PENDING,
    (_S.RENAME_PENDING, _T.RENAME_SOURCE_ACCEPTED): _S.RENAME_PENDING,
    (_S.RENAME_PENDING, _T.RENAME_CLEARED): _S.LOGGED_IN,
    (_S.LOGGED_IN, _T.RENAME_CLEARED): _S.LOGGED_IN,
    (_S.AWAIT_USER, _T.LOGGED_OUT): _S.AWAIT_USER,
    (_S.AWAIT_PASS, _T.LOGGED_OUT): _S.AWAIT_USER,
    (_S.LOGGED_IN, _T.LOGGED_OUT): _S.AWAIT_USER,
    (_S.RENAME_PENDING, _T.LOGGED_OUT): _S.AWAIT_USER,
    **{(state, _T.CLOSE): _S.CLOSED for state in State},
}

LOGGED_IN_STATES = frozenset({State.LOGGED_IN, State.RENAME_PENDING})


def next_state(state: State, transition: Transition) -> State:
    try:
        return TRANSITIONS[(state, transition)]
    except KeyError:
        raise InvalidTransition(f"{transition.value} is not possible in {state.value}") from None
