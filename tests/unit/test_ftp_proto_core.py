"""The sans-I/O FTP core as byte tables: bytes in (in one or several chunks), events and reply
bytes out; the command table; the state machine; and the purity of ftp/proto."""

from __future__ import annotations

import ast
import itertools
import sys
from collections import deque
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ferryd.ftp.proto
from ferryd.ftp.proto.commands import COMMANDS, Access, Argument
from ferryd.ftp.proto.core import (
    MAX_OVERLONG_LINES,
    MAX_UNKNOWN_BEFORE_LOGIN,
    Command,
    Event,
    FtpConnectionCore,
    Signal,
)
from ferryd.ftp.proto.replies import Reply
from ferryd.ftp.proto.state import (
    LOGGED_IN_STATES,
    TRANSITIONS,
    InvalidTransition,
    State,
    Transition,
    next_state,
)

# -- helpers -------------------------------------------------------------------------------

Seen = tuple[str, str] | Signal  # (verb, argument) for a Command; the Signal otherwise


def seen(event: Event) -> Seen:
    if isinstance(event, Command):
        return (event.verb, event.argument)
    return event


def drive(core: FtpConnectionCore, *chunks: bytes) -> tuple[list[Seen], bytes]:
    """Feed each chunk (b"" is EOF) and pull events until the core needs data, pauses or
    closes. Returns what was seen (NEED_DATA left out) and the bytes the core wants sent."""
    events: list[Seen] = []
    for chunk in chunks:
        core.receive_data(chunk)
        while True:
            event = core.next_event()
            if event is Signal.NEED_DATA:
                break
            events.append(seen(event))
            if event in (Signal.CLOSED, Signal.PAUSED):
                return events, core.data_to_send()
    return events, core.data_to_send()


def logged_in_core(**kwargs: int) -> FtpConnectionCore:
    core = FtpConnectionCore(**kwargs)
    core.apply(Transition.USER_ACCEPTED)
    core.apply(Transition.LOGIN_SUCCEEDED)
    return core


LOGIN_FIRST = b"530 Please login with USER and PASS.\r\n"
UNKNOWN = b"500 Unknown command.\r\n"
TOO_LONG = b"500 Command line too long.\r\n"


# -- the command table, written out independently of commands.py ---------------------------

def names(text: str) -> set[str]:
    return set(text.split())


ALL_VERBS = names("""
USER PASS ACCT REIN QUIT AUTH PBSZ PROT CCC SYST FEAT OPTS HELP NOOP STAT SITE PWD XPWD CWD XCWD
CDUP XCUP MKD XMKD RMD XRMD DELE RNFR RNTO SIZE MDTM MFMT LIST NLST MLSD MLST TYPE MODE STRU ALLO
PORT EPRT PASV EPSV REST RETR STOR STOU APPE ABOR HASH XCRC XMD5 XSHA1 XSHA256 XSHA512
""")
BEFORE_LOGIN = names("USER PASS REIN QUIT AUTH PBSZ PROT CCC SYST FEAT OPTS HELP NOOP STAT")
NO_ARGUMENT = names("REIN QUIT CCC SYST FEAT NOOP PWD XPWD CDUP XCUP PASV ABOR")
OPTIONAL_ARGUMENT = names("PASS HELP STAT CWD XCWD LIST NLST MLSD MLST ALLO EPSV STOU")
REQUIRED_ARGUMENT = ALL_VERBS - NO_ARGUMENT - OPTIONAL_ARGUMENT
ALIASES = {"XPWD": "PWD", "XCWD": "CWD", "XCUP": "CDUP", "XMKD": "MKD", "XRMD": "RMD"}
DURING_TRANSFER = {"ABOR", "STAT", "NOOP", "QUIT"}

VALID_ARGUMENT = {
    "USER": "alice", "PASS": "s3cret", "ACCT": "dept", "AUTH": "TLS", "PBSZ": "0", "PROT": "P",
    "OPTS": "UTF8 ON", "HELP": "RETR", "STAT": "/pub", "SITE": "CHMOD 644 a.txt",
    "CWD": "/pub", "XCWD": "/pub", "MKD": "new", "XMKD": "new", "RMD": "old", "XRMD": "old",
    "DELE": "a.txt", "RNFR": "a.txt", "RNTO": "b.txt", "SIZE": "a.txt", "MDTM": "a.txt",
    "MFMT": "20260102030405 a.txt", "LIST": "-la /pub", "NLST": "/pub", "MLSD": "/pub",
    "MLST": "a.txt", "TYPE": "I", "MODE": "S", "STRU": "F", "ALLO": "1024",
    "PORT": "127,0,0,1,4,1", "EPRT": "|2|::1|1025|", "EPSV": "ALL", "REST": "100",
    "RETR": "a.txt", "STOR": "a.txt", "STOU": "a.txt", "APPE": "a.txt", "HASH": "a.txt",
    "XCRC": "a.txt 0 10", "XMD5": "a.txt", "XSHA1": "a.txt", "XSHA256": "a.txt",
    "XSHA512": "a.txt",
}


def test_the_table_declares_exactly_these_commands() -> None:
    assert set(COMMANDS) == ALL_VERBS
    assert all(name == spec.name for name, spec in COMMANDS.items())
    assert set(VALID_ARGUMENT) == ALL_VERBS - NO_ARGUMENT


def test_only_these_commands_work_before_login() -> None:
    anyone = {name for name, spec in COMMANDS.items() if spec.access is Access.ANYONE}
    assert anyone == BEFORE_LOGIN


def test_argument_rules() -> None:
    by_rule = {
        rule: {name for name, spec in COMMANDS.items() if spec.argument is rule}
        for rule in Argument
    }
    assert by_rule == {
        Argument.NONE: NO_ARGUMENT,
        Argument.OPTIONAL: OPTIONAL_ARGUMENT,
        Argument.REQUIRED: REQUIRED_ARGUMENT,
    }


def test_aliases_share_one_handler_and_only_four_run_during_a_transfer() -> None:
    assert {n: s.alias_of for n, s in COMMANDS.items() if s.alias_of} == ALIASES
    assert {n for n, s in COMMANDS.items() if s.during_transfer} == DURING_TRANSFER
    assert COMMANDS["XPWD"].handler_name == "PWD"
    assert COMMANDS["PWD"].handler_name == "PWD"
    assert all(spec.help.startswith(name) for name, spec in COMMANDS.items())


# -- every command: accepted, 530, 501 ------------------------------------------------------


@pytest.mark.parametrize("verb", sorted(ALL_VERBS))
def test_every_command_is_accepted_when_logged_in_with_a_valid_argument(verb: str) -> None:
    core = logged_in_core()
    if verb == "RNTO":
        core.apply(Transition.RENAME_SOURCE_ACCEPTED)
    argument = VALID_ARGUMENT.get(verb, "")
    line = f"{verb} {argument}" if argument else verb
    core.receive_data(line.encode() + b"\r\n")
    event = core.next_event()
    assert isinstance(event, Command)
    assert (event.verb, event.argument) == (verb, argument)
    assert event.spec is COMMANDS[verb]
    assert event.name == ALIASES.get(verb, verb)
    assert core.data_to_send() == b""
    assert core.next_event() is Signal.NEED_DATA


@pytest.mark.parametrize("verb", sorted(ALL_VERBS - BEFORE_LOGIN))
def test_every_logged_in_command_gets_530_before_login(verb: str) -> None:
    for state_setup in ([], [Transition.USER_ACCEPTED]):  # before USER and before PASS
        core = FtpConnectionCore()
        for transition in state_setup:
            core.apply(transition)
        argument = VALID_ARGUMENT.get(verb, "")
        line = f"{verb} {argument}" if argument else verb
        assert drive(core, line.encode() + b"\r\n") == ([], LOGIN_FIRST)
        assert not core.logged_in


@pytest.mark.parametrize("verb", sorted(BEFORE_LOGIN - {"PASS"}))
def test_commands_open_to_anyone_pass_before_login(verb: str) -> None:
    argument = VALID_ARGUMENT.get(verb, "")
    line = f"{verb} {argument}" if argument else verb
    assert drive(FtpConnectionCore(), line.encode() + b"\r\n") == ([(verb, argument)], b"")


@pytest.mark.parametrize("verb", sorted(REQUIRED_ARGUMENT))
@pytest.mark.parametrize("line_end", [b"\r\n", b" \r\n", b"   \n"])
def test_missing_required_argument_is_501(verb: str, line_end: bytes) -> None:
    core = logged_in_core()
    if verb == "RNTO":
        core.apply(Transition.RENAME_SOURCE_ACCEPTED)
    expected = f"501 {verb} needs an argument.\r\n".encode()
    assert drive(core, verb.encode() + line_end) == ([], expected)


@pytest.mark.parametrize("verb", sorted(NO_ARGUMENT))
def test_unexpected_argument_is_501(verb: str) -> None:
    expected = f"501 {verb} takes no argument.\r\n".encode()
    assert drive(logged_in_core(), f"{verb} extra\r\n".encode()) == ([], expected)
    # trailing spaces are no argument
    assert drive(logged_in_core(), f"{verb} \r\n".encode()) == ([(verb, "")], b"")
    assert drive(logged_in_core(), f"{verb}   \r\n".encode()) == ([(verb, "  ")], b"")


@pytest.mark.parametrize("verb", sorted(OPTIONAL_ARGUMENT - {"PASS"}))
def test_optional_argument_may_be_left_out(verb: str) -> None:
    assert drive(logged_in_core(), f"{verb}\r\n".encode()) == ([(verb, "")], b"")


def test_argument_errors_come_before_the_login_check() -> None:
    # as pyftpdlib: the syntax is checked first, then the login
    assert drive(FtpConnectionCore(), b"RETR\r\n") == ([], b"501 RETR needs an argument.\r\n")
    assert drive(FtpConnectionCore(), b"PWD x\r\n") == ([], b"501 PWD takes no argument.\r\n")


# -- line framing ---------------------------------------------------------------------------

FRAMING_TABLE: list[tuple[str, list[bytes], list[Seen], bytes]] = [
    ("crlf", [b"NOOP\r\n"], [("NOOP", "")], b""),
    ("bare lf", [b"NOOP\n"], [("NOOP", "")], b""),
    ("lower case verb", [b"noop\r\n"], [("NOOP", "")], b""),
    ("mixed case verb", [b"NoOp\r\n"], [("NOOP", "")], b""),
    ("leading spaces", [b"  NOOP\r\n"], [("NOOP", "")], b""),
    ("two in one chunk", [b"NOOP\r\nSYST\n"], [("NOOP", ""), ("SYST", "")], b""),
    ("split in the verb", [b"NO", b"OP\r\n"], [("NOOP", "")], b""),
    ("split between CR and LF", [b"NOOP\r", b"\n"], [("NOOP", "")], b""),
    ("byte by byte", [bytes([b]) for b in b"USER bob\r\n"], [("USER", "bob")], b""),
    ("incomplete line waits", [b"NOOP"], [], b""),
    ("empty lines are ignored", [b"\r\n\n  \r\nNOOP\r\n"], [("NOOP", "")], b""),
    ("spaces inside the argument are kept", [b"USER  a b \r\n"], [("USER", " a b ")], b""),
    ("extra CRs are line ending", [b"NOOP\r\r\n"], [("NOOP", "")], b""),
    ("CR inside a line stays", [b"USER a\rb\r\n"], [("USER", "a\rb")], b""),
    ("non-utf-8 bytes are surrogates", [b"USER caf\xe9\r\n"], [("USER", "caf\udce9")], b""),
    ("utf-8 is decoded", [b"USER caf\xc3\xa9\r\n"], [("USER", "caf\u00e9")], b""),
    ("NUL in argument", [b"USER a\x00b\r\n"], [], b"501 NUL byte in argument refused.\r\n"),
    ("NUL after the verb", [b"NOOP\x00\r\n"], [], UNKNOWN),
    ("unknown verb", [b"FOO bar\r\n"], [], UNKNOWN),
    # str.upper() maps U+017F (long s) to "S" and U+0131 (dotless i) to "I"
    ("non-ascii verb that upper-cases to USER", ["u\u017fer x\r\n".encode()], [], UNKNOWN),
    ("non-ascii verb that upper-cases to LIST", ["l\u0131st\r\n".encode()], [], UNKNOWN),
    ("eof", [b""], [Signal.CLOSED], b""),
    ("lines before eof still count", [b"NOOP\r\nSYST\r\n", b""],
     [("NOOP", ""), ("SYST", ""), Signal.CLOSED], b""),
    ("a partial line at eof is dropped", [b"NOOP\r\nSYS", b""],
     [("NOOP", ""), Signal.CLOSED], b""),
]


@pytest.mark.parametrize(
    ("chunks", "events", "output"),
    [row[1:] for row in FRAMING_TABLE],
    ids=[row[0] for row in FRAMING_TABLE],
)
def test_framing(chunks: list[bytes], events: list[Seen], output: bytes) -> None:
    assert drive(FtpConnectionCore(), *chunks) == (events, output)


def test_non_utf8_argument_round_trips_to_the_same_bytes() -> None:
    core = FtpConnectionCore()
    core.receive_data(b"USER \xe9\x80name\r\n")
    event = core.next_event()
    assert isinstance(event, Command)
    assert event.argument == "\udce9\udc80name"
    assert event.argument.encode("utf-8", "surrogateescape") == b"\xe9\x80name"


STREAM = (
    b"USER alice\r\nPASS secret\nSYST\r\nFOO\r\n\r\nCWD caf\xc3\xa9\r\n"
    b"\xff\xf4\xff\xf2ABOR\r\nUSER a\x00b\r\nQUIT\r\n"
)
STREAM_EVENTS: list[Seen] = [
    ("USER", "alice"), ("PASS", "secret"), ("SYST", ""), ("CWD", "caf\u00e9"), ("ABOR", ""),
    ("QUIT", ""),
]
STREAM_OUTPUT = UNKNOWN + b"501 NUL byte in argument refused.\r\n"


def _logged_in_after_pass(core: FtpConnectionCore, chunks: Iterable[bytes]) -> list[Seen]:
    """Drive like a driver would: USER and PASS accepted as they come."""
    events: list[Seen] = []
    for chunk in chunks:
        if not chunk:
            continue  # b"" would mean EOF
        core.receive_data(chunk)
        while (event := core.next_event()) is not Signal.NEED_DATA:
            assert isinstance(event, Command), event
            events.append(seen(event))
            if isinstance(event, Command) and event.name == "USER":
                core.apply(Transition.USER_ACCEPTED)
            elif isinstance(event, Command) and event.name == "PASS":
                core.apply(Transition.LOGIN_SUCCEEDED)
    return events


@pytest.mark.parametrize("cut", range(len(STREAM) + 1))
def test_a_stream_split_at_any_point_gives_the_same_events(cut: int) -> None:
    core = FtpConnectionCore()
    assert _logged_in_after_pass(core, [STREAM[:cut], STREAM[cut:]]) == STREAM_EVENTS
    assert core.data_to_send() == STREAM_OUTPUT


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_a_stream_split_anywhere_many_times_gives_the_same_events(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(STREAM)]
    chunks = [STREAM[a:b] for a, b in itertools.pairwise(points)]
    core = FtpConnectionCore()
    assert _logged_in_after_pass(core, chunks) == STREAM_EVENTS
    assert core.data_to_send() == STREAM_OUTPUT


# -- over-long lines ------------------------------------------------------------------------

LIMIT = 16


@pytest.mark.parametrize("line_end", [b"\r\n", b"\n"])
def test_a_line_of_exactly_the_limit_is_accepted_with_either_line_end(line_end: bytes) -> None:
    line = b"USER " + b"x" * (LIMIT - 5)
    assert len(line) == LIMIT
    core = FtpConnectionCore(max_line_length=LIMIT)
    assert drive(core, line + line_end) == ([("USER", "x" * (LIMIT - 5))], b"")
    # and when the line end arrives in its own chunk
    core = FtpConnectionCore(max_line_length=LIMIT)
    assert drive(core, line, line_end) == ([("USER", "x" * (LIMIT - 5))], b"")


@pytest.mark.parametrize("line_end", [b"\r\n", b"\n"])
def test_a_line_one_byte_over_the_limit_is_500(line_end: bytes) -> None:
    core = FtpConnectionCore(max_line_length=LIMIT)
    line = b"USER " + b"x" * (LIMIT - 4)
    assert drive(core, line + line_end + b"NOOP\r\n") == ([("NOOP", "")], TOO_LONG)


def test_an_over_long_line_arriving_in_pieces_is_one_500_and_is_discarded() -> None:
    core = FtpConnectionCore(max_line_length=LIMIT)
    pieces = [b"USER " + b"y" * 20, b"z" * 30, b"w" * 30, b"\r\nNOOP\r\n"]
    assert drive(core, *pieces) == ([("NOOP", "")], TOO_LONG)
    assert core.state is State.AWAIT_USER


def test_the_third_over_long_line_closes_with_421() -> None:
    core = FtpConnectionCore(max_line_length=LIMIT)
    long_line = b"X" * (LIMIT + 10) + b"\r\n"
    events, output = drive(core, long_line * MAX_OVERLONG_LINES + b"NOOP\r\n")
    assert MAX_OVERLONG_LINES == 3
    assert events == [Signal.CLOSED]
    assert output == TOO_LONG * 2 + b"421 Too many over-long command lines, closing.\r\n"
    assert core.state is State.CLOSED
    assert core.next_event() is Signal.CLOSED


def test_over_long_lines_without_newlines_also_close_on_the_third() -> None:
    core = FtpConnectionCore(max_line_length=LIMIT)
    chunks = [b"a" * 40, b"\n", b"b" * 40, b"\n", b"c" * 40]
    events, output = drive(core, *chunks)
    assert events == [Signal.CLOSED]
    assert output == TOO_LONG * 2 + b"421 Too many over-long command lines, closing.\r\n"


def test_good_lines_between_over_long_ones_do_not_reset_the_count() -> None:
    core = FtpConnectionCore(max_line_length=LIMIT)
    long_line = b"X" * 40 + b"\r\n"
    events, _ = drive(core, long_line + b"NOOP\r\n" + long_line + b"NOOP\r\n" + long_line)
    assert events == [("NOOP", ""), ("NOOP", ""), Signal.CLOSED]


def test_the_default_limit_is_4096() -> None:
    core = FtpConnectionCore()
    ok = b"USER " + b"u" * (4096 - 5)
    assert drive(core, ok + b"\r\n") == ([("USER", "u" * 4091)], b"")
    assert drive(core, ok + b"u\r\n") == ([], TOO_LONG)


# -- Telnet ---------------------------------------------------------------------------------

TELNET_TABLE: list[tuple[str, bytes, Seen]] = [
    ("IAC IP IAC DM before ABOR", b"\xff\xf4\xff\xf2ABOR\r\n", ("ABOR", "")),
    ("IAC IP alone", b"\xff\xf4ABOR\r\n", ("ABOR", "")),
    # DM sent as TCP urgent data is taken out of the stream: IAC is left before ABOR
    ("IAC IP IAC, DM lost to urgent data", b"\xff\xf4\xffABOR\r\n", ("ABOR", "")),
    ("stray IAC before the verb", b"\xffABOR\r\n", ("ABOR", "")),
    ("IAC at the end of the line", b"ABOR\xff\r\n", ("ABOR", "")),
    ("IAC WILL option", b"\xff\xfb\x01ABOR\r\n", ("ABOR", "")),
    ("IAC DONT option", b"\xff\xfe\x01NOOP\r\n", ("NOOP", "")),
    ("IAC IAC is a literal 0xFF", b"CWD a\xff\xffb\r\n", ("CWD", "a\udcffb")),
    ("IAC NOP inside an argument", b"CWD a\xff\xf1b\r\n", ("CWD", "ab")),
]


@pytest.mark.parametrize(
    ("data", "expected"), [row[1:] for row in TELNET_TABLE], ids=[row[0] for row in TELNET_TABLE]
)
def test_telnet_commands_are_stripped(data: bytes, expected: Seen) -> None:
    assert drive(logged_in_core(), data) == ([expected], b"")


# -- unknown commands -----------------------------------------------------------------------


def test_ten_unknown_commands_before_login_close_the_connection() -> None:
    assert MAX_UNKNOWN_BEFORE_LOGIN == 10
    core = FtpConnectionCore()
    events, output = drive(core, b"GET /\r\n" * 9)
    assert events == []
    assert output == UNKNOWN * 9
    events, output = drive(core, b"Host: x\r\nUSER alice\r\n")
    assert events == [Signal.CLOSED]
    assert output == b"421 Too many unknown commands before login, closing.\r\n"
    assert core.state is State.CLOSED


def test_known_commands_between_unknown_ones_do_not_reset_the_count() -> None:
    core = FtpConnectionCore()
    events, output = drive(core, b"FOO\r\nSYST\r\n" * 9 + b"FOO\r\n")
    assert events == [("SYST", "")] * 9 + [Signal.CLOSED]
    assert output.endswith(b"421 Too many unknown commands before login, closing.\r\n")


def test_unknown_commands_after_login_never_close() -> None:
    core = logged_in_core()
    assert drive(core, b"FOO\r\n" * 25) == ([], UNKNOWN * 25)
    assert core.state is State.LOGGED_IN


# -- login and rename ordering ----------------------------------------------------------------


def test_pass_before_user_is_503() -> None:
    core = FtpConnectionCore()
    assert drive(core, b"PASS secret\r\n") == ([], b"503 Login with USER first.\r\n")
    core.apply(Transition.USER_ACCEPTED)
    assert drive(core, b"PASS secret\r\n") == ([("PASS", "secret")], b"")
    core.apply(Transition.LOGIN_FAILED)  # back to AWAIT_USER: USER is needed again
    assert drive(core, b"PASS again\r\n") == ([], b"503 Login with USER first.\r\n")


def test_empty_pass_is_a_command() -> None:
    core = FtpConnectionCore()
    core.apply(Transition.USER_ACCEPTED)
    assert drive(core, b"PASS\r\n") == ([("PASS", "")], b"")


def test_rnto_without_rnfr_is_503() -> None:
    core = logged_in_core()
    assert drive(core, b"RNTO b.txt\r\n") == ([], b"503 RNFR required first.\r\n")


def test_rnto_right_after_rnfr_is_passed_on() -> None:
    core = logged_in_core()
    assert drive(core, b"RNFR a.txt\r\n") == ([("RNFR", "a.txt")], b"")
    core.apply(Transition.RENAME_SOURCE_ACCEPTED)
    assert core.state is State.RENAME_PENDING
    assert core.logged_in
    assert drive(core, b"RNTO b.txt\r\n") == ([("RNTO", "b.txt")], b"")
    assert core.state is State.RENAME_PENDING  # the driver clears it after the rename
    core.apply(Transition.RENAME_CLEARED)
    assert drive(core, b"RNTO c.txt\r\n") == ([], b"503 RNFR required first.\r\n")


CLEARING_LINES: list[tuple[str, bytes, list[Seen], bytes]] = [
    ("another command", b"NOOP\r\n", [("NOOP", "")], b""),
    ("another RNFR", b"RNFR x\r\n", [("RNFR", "x")], b""),
    ("an alias", b"XPWD\r\n", [("XPWD", "")], b""),
    ("an unknown command", b"FOO\r\n", [], UNKNOWN),
    ("a command with a missing argument", b"DELE\r\n", [], b"501 DELE needs an argument.\r\n"),
    ("a command with an extra argument", b"PWD x\r\n", [], b"501 PWD takes no argument.\r\n"),
    ("a NUL in an argument", b"DELE a\x00\r\n", [], b"501 NUL byte in argument refused.\r\n"),
]


@pytest.mark.parametrize(
    ("line", "events", "output"),
    [row[1:] for row in CLEARING_LINES],
    ids=[row[0] for row in CLEARING_LINES],
)
def test_any_line_but_rnto_clears_a_pending_rename(
    line: bytes, events: list[Seen], output: bytes
) -> None:
    core = logged_in_core()
    core.apply(Transition.RENAME_SOURCE_ACCEPTED)
    assert drive(core, line) == (events, output)
    assert core.state is State.LOGGED_IN
    assert drive(core, b"RNTO b.txt\r\n") == ([], b"503 RNFR required first.\r\n")


def test_an_empty_line_does_not_clear_a_pending_rename() -> None:
    core = logged_in_core()
    core.apply(Transition.RENAME_SOURCE_ACCEPTED)
    assert drive(core, b"\r\nRNTO b\r\n") == ([("RNTO", "b")], b"")


# -- TLS pause ----------------------------------------------------------------------------


def test_auth_pauses_and_keeps_pipelined_plaintext_as_trailing_data() -> None:
    core = FtpConnectionCore()
    core.receive_data(b"AUTH TLS\r\nUSER evil\r\n")
    core.receive_data(b"PASS x\r\n")
    assert seen(core.next_event()) == ("AUTH", "TLS")  # the driver handles it: 234, then
    core.apply(Transition.TLS_STARTING)
    assert core.state is State.TLS_PAUSED
    assert core.next_event() is Signal.PAUSED
    assert core.trailing_data == b"USER evil\r\nPASS x\r\n"
    # still paused whatever arrives, and nothing is parsed from it
    core.receive_data(b"NOOP\r\n")
    assert core.next_event() is Signal.PAUSED
    assert core.data_to_send() == b""
    core.apply(Transition.TLS_ESTABLISHED)
    assert core.state is State.AWAIT_USER
    assert core.trailing_data == b""
    assert core.next_event() is Signal.NEED_DATA
    assert drive(core, b"USER alice\r\n") == ([("USER", "alice")], b"")


def test_auth_with_nothing_pipelined_has_no_trailing_data() -> None:
    core = FtpConnectionCore()
    core.apply(Transition.USER_ACCEPTED)
    assert drive(core, b"AUTH TLS\r\n") == ([("AUTH", "TLS")], b"")
    core.apply(Transition.TLS_STARTING)
    assert core.next_event() is Signal.PAUSED
    assert core.trailing_data == b""
    core.apply(Transition.TLS_ESTABLISHED)
    assert core.state is State.AWAIT_USER  # USER must be sent again, under TLS


def test_tls_cannot_start_after_login() -> None:
    core = logged_in_core()
    with pytest.raises(InvalidTransition, match="tls_starting is not possible in logged_in"):
        core.apply(Transition.TLS_STARTING)
    assert core.state is State.LOGGED_IN


# -- output and closing -----------------------------------------------------------------------


def test_replies_are_queued_until_data_to_send_drains_them() -> None:
    core = FtpConnectionCore()
    core.send_reply(Reply(220, "ready"))
    core.send_reply(Reply(211, "Features:\n UTF8\nEnd"))
    assert core.data_to_send() == b"220 ready\r\n211-Features:\r\n UTF8\r\n211 End\r\n"
    assert core.data_to_send() == b""


def test_close_and_eof_end_in_closed_for_good() -> None:
    core = logged_in_core()
    core.close()
    assert core.state is State.CLOSED
    assert not core.logged_in
    core.receive_data(b"NOOP\r\n")
    assert core.next_event() is Signal.CLOSED
    core.close()  # closing twice is fine
    assert core.next_event() is Signal.CLOSED
    core = FtpConnectionCore()
    core.receive_data(b"")
    assert core.next_event() is Signal.CLOSED
    assert core.state is State.CLOSED


def test_eof_while_paused_stays_paused_for_the_driver_to_decide() -> None:
    core = FtpConnectionCore()
    drive(core, b"AUTH TLS\r\n")
    core.apply(Transition.TLS_STARTING)
    core.receive_data(b"")
    assert core.next_event() is Signal.PAUSED


# -- the state machine ------------------------------------------------------------------------


def _paths_from_start() -> dict[State, list[Transition]]:
    """The shortest list of transitions from AWAIT_USER to each state (breadth first)."""
    paths: dict[State, list[Transition]] = {State.AWAIT_USER: []}
    queue = deque([State.AWAIT_USER])
    while queue:
        state = queue.popleft()
        for (source, transition), target in TRANSITIONS.items():
            if source is state and target not in paths:
                paths[target] = [*paths[state], transition]
                queue.append(target)
    return paths


def test_every_state_is_reachable_from_the_start() -> None:
    assert set(_paths_from_start()) == set(State)
    assert FtpConnectionCore().state is State.AWAIT_USER


@pytest.mark.parametrize(
    ("state", "transition"),
    sorted(TRANSITIONS, key=lambda pair: (pair[0].value, pair[1].value)),
    ids=lambda value: value.value,
)
def test_every_row_of_the_table_is_reachable_through_the_core(
    state: State, transition: Transition
) -> None:
    core = FtpConnectionCore()
    for step in _paths_from_start()[state]:
        core.apply(step)
    assert core.state is state
    core.apply(transition)
    assert core.state is TRANSITIONS[(state, transition)]


def test_the_table_has_the_expected_rows() -> None:
    S, T = State, Transition
    assert TRANSITIONS[(S.AWAIT_USER, T.USER_ACCEPTED)] is S.AWAIT_PASS
    assert TRANSITIONS[(S.AWAIT_PASS, T.LOGIN_SUCCEEDED)] is S.LOGGED_IN
    assert TRANSITIONS[(S.AWAIT_PASS, T.LOGIN_FAILED)] is S.AWAIT_USER
    assert TRANSITIONS[(S.TLS_PAUSED, T.TLS_ESTABLISHED)] is S.AWAIT_USER
    assert TRANSITIONS[(S.LOGGED_IN, T.RENAME_SOURCE_ACCEPTED)] is S.RENAME_PENDING
    assert TRANSITIONS[(S.RENAME_PENDING, T.LOGGED_OUT)] is S.AWAIT_USER
    assert all(TRANSITIONS[(state, T.CLOSE)] is S.CLOSED for state in State)
    assert len(TRANSITIONS) == 16 + len(State)
    assert frozenset({S.LOGGED_IN, S.RENAME_PENDING}) == LOGGED_IN_STATES


IMPOSSIBLE = [
    (State.AWAIT_USER, Transition.LOGIN_SUCCEEDED),  # no password was checked
    (State.LOGGED_IN, Transition.USER_ACCEPTED),
    (State.LOGGED_IN, Transition.TLS_STARTING),
    (State.AWAIT_USER, Transition.RENAME_SOURCE_ACCEPTED),
    (State.TLS_PAUSED, Transition.USER_ACCEPTED),
    (State.TLS_PAUSED, Transition.LOGGED_OUT),
    (State.AWAIT_USER, Transition.TLS_ESTABLISHED),
    (State.CLOSED, Transition.TLS_ESTABLISHED),
    (State.CLOSED, Transition.LOGIN_SUCCEEDED),
]


@pytest.mark.parametrize(("state", "transition"), IMPOSSIBLE, ids=str)
def test_an_impossible_pair_raises_invalid_transition(
    state: State, transition: Transition
) -> None:
    assert (state, transition) not in TRANSITIONS
    with pytest.raises(InvalidTransition, match=f"{transition.value} is not possible in"):
        next_state(state, transition)


def test_every_pair_outside_the_table_raises() -> None:
    for state in State:
        for transition in Transition:
            if (state, transition) in TRANSITIONS:
                assert next_state(state, transition) is TRANSITIONS[(state, transition)]
            else:
                with pytest.raises(InvalidTransition):
                    next_state(state, transition)


# -- purity: ftp/proto does no I/O --------------------------------------------------------------

PURE_STDLIB = {
    "__future__", "abc", "calendar", "collections", "dataclasses", "enum", "functools",
    "ipaddress", "itertools", "re", "stat", "string", "time", "typing",
}
FORBIDDEN = {"asyncio", "socket", "ssl", "os", "selectors", "subprocess", "threading", "io"}


def imported_modules(path: Path, package: str) -> set[str]:
    """Every module a file imports, anywhere in it (relative imports made absolute)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base)
                module = f"{prefix}.{node.module}" if node.module else prefix
            else:
                module = node.module or ""
            modules.add(module)
            # `from ferryd import ftp` imports ferryd.ftp
            modules.update(f"{module}.{alias.name}" for alias in node.names)
    return modules


PROTO_DIR = Path(ferryd.ftp.proto.__file__).parent
PROTO_FILES = sorted(PROTO_DIR.glob("*.py"))


def test_the_proto_package_has_the_expected_modules() -> None:
    names = {path.stem for path in PROTO_FILES}
    assert {"core", "commands", "state", "replies", "ascii", "addresses", "facts"} <= names


def proto_violations(path: Path) -> set[str]:
    wrong = set()
    for module in imported_modules(path, "ferryd.ftp.proto"):
        root = module.split(".")[0]
        if root == "ferryd":
            if not module.startswith(("ferryd.ftp.proto", "ferryd.storage.protocol")):
                wrong.add(module)
        elif root in FORBIDDEN or root not in PURE_STDLIB:
            wrong.add(module)
    return wrong


@pytest.mark.parametrize("path", PROTO_FILES, ids=lambda path: path.name)
def test_proto_imports_only_itself_the_storage_protocol_and_pure_stdlib(path: Path) -> None:
    assert proto_violations(path) == set()


def test_the_purity_check_flags_io_and_other_layers(tmp_path: Path) -> None:
    assert PURE_STDLIB.isdisjoint(FORBIDDEN)
    assert all(name in sys.stdlib_module_names for name in PURE_STDLIB | FORBIDDEN)
    source = tmp_path / "sample.py"
    source.write_text(
        "import os.path\nfrom . import core\nfrom ..session import paths\n"
        "from ferryd.storage.protocol import FileStat\nfrom ferryd.storage import local\n"
        "import json\n"
        "def f():\n    import socket\n"
    )
    assert imported_modules(source, "ferryd.ftp.proto") == {
        "os.path", "ferryd.ftp.proto", "ferryd.ftp.proto.core", "ferryd.ftp.session",
        "ferryd.ftp.session.paths", "ferryd.storage.protocol",
        "ferryd.storage.protocol.FileStat", "ferryd.storage", "ferryd.storage.local", "json",
        "socket",
    }
    assert proto_violations(source) == {
        "os.path", "ferryd.ftp.session", "ferryd.ftp.session.paths", "ferryd.storage",
        "ferryd.storage.local", "json", "socket",
    }
