"""The FTP control connection as a sans-I/O core: bytes in, commands out; replies in, bytes out.

No asyncio, sockets, ssl or os here. The driver feeds received bytes with `receive_data`,
pulls events with `next_event`, answers commands with `send_reply`, reports outcomes with
`apply`, and writes whatever `data_to_send` returns.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ferryd.ftp.proto.commands import COMMANDS, Access, Argument, CommandSpec
from ferryd.ftp.proto.replies import Reply
from ferryd.ftp.proto.state import LOGGED_IN_STATES, State, Transition, next_state

MAX_UNKNOWN_BEFORE_LOGIN = 10
MAX_OVERLONG_LINES = 3
MAX_DISCARDED_LINE_FACTOR = 16  # one over-long line may run to 16 x the limit, then we close
_TELNET_IAC = 0xFF
_TELNET_FIRST_COMMAND = 0xF0  # SE; Telnet commands are 240-255


class Signal(enum.Enum):
    NEED_DATA = "need_data"
    PAUSED = "paused"  # TLS handshake in progress; feed nothing until resumed
    CLOSED = "closed"  # send data_to_send(), then close the connection


@dataclass(frozen=True, slots=True)
class Command:
    spec: CommandSpec
    verb: str  # as the client sent it, upper-cased (XPWD stays XPWD)
    argument: str  # "" when absent; undecodable bytes kept as surrogates (RFC 2640 names)

    @property
    def name(self) -> str:
        return self.spec.handler_name


Event = Command | Signal


def _strip_telnet(line: bytes) -> bytes:
    """Drop Telnet commands (IAC IP, IAC DM, ... sent before ABOR); IAC IAC is a literal 0xFF."""
    if _TELNET_IAC not in line:
        return line
    out = bytearray()
    index = 0
    while index < len(line):
        byte = line[index]
        if byte == _TELNET_IAC and index + 1 < len(line):
            following = line[index + 1]
            if following < _TELNET_FIRST_COMMAND:
                # Not a Telnet command: a client whose `IAC DM` went out as urgent data (the
                # kernel keeps that byte out of the stream) leaves `IAC` before `ABOR`. Drop
                # the IAC only, never the byte after it.
                index += 1
                continue
            if following == _TELNET_IAC:
                out.append(_TELNET_IAC)
            elif 251 <= following <= 254:
                index += 1  # WILL/WONT/DO/DONT take an option byte
            index += 2
            continue
        if byte != _TELNET_IAC:
            out.append(byte)
        index += 1
    return bytes(out)


class FtpConnectionCore:
    """One control connection's protocol state, independent of any I/O."""

    def __init__(self, *, max_line_length: int = 4096) -> None:
        self._max_line_length = max_line_length
        self._buffer = bytearray()
        self._outbound = bytearray()
        self._state = State.AWAIT_USER
        self._discarding = False  # inside an over-long line, until its newline
        self._discarded = 0  # bytes of that line thrown away so far
        self._overlong_lines = 0
        self._unknown_before_login = 0
        self._eof = False

    # -- observation ------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self._state

    @property
    def logged_in(self) -> bool:
        return self._state in LOGGED_IN_STATES

    @property
    def trailing_data(self) -> bytes:
        """Bytes received after the command that paused the core (plaintext after AUTH)."""
        return bytes(self._buffer)

    # -- input ------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the network; b"" means the peer closed its side."""
        if not data:
            self._eof = True
            return
        self._buffer += data

    def next_event(self) -> Event:
        while True:
            if self._state is State.CLOSED:
                return Signal.CLOSED
            if self._state is State.TLS_PAUSED:
                return Signal.PAUSED
            newline = self._buffer.find(b"\n")
            if newline < 0:
                # +1: room for the CR of a CRLF whose LF has not arrived yet
                if len(self._buffer) > self._max_line_length + 1:
                    if not self._discarding:
                        self._discarding = True
                        self._discarded = 0
                        if self._too_long():
                            return Signal.CLOSED
                    self._discarded += len(self._buffer)
                    self._buffer.clear()
                    if self._discarded > self._max_line_length * MAX_DISCARDED_LINE_FACTOR:
                        # one line that never ends: no client needs this; stop reading it
                        self._queue(Reply(421, "Command line too long, closing."))
                        self.apply(Transition.CLOSE)
                        return Signal.CLOSED
                if self._eof:
                    self.apply(Transition.CLOSE)
                    return Signal.CLOSED
                return Signal.NEED_DATA
            raw = bytes(self._buffer[:newline])
            del self._buffer[: newline + 1]
            if self._discarding:
                self._discarding = False
                continue
            # the limit is on the line itself, CRLF or bare LF alike
            if len(raw) - raw.endswith(b"\r") > self._max_line_length:
                if self._too_long():
                    return Signal.CLOSED
                continue
            event = self._parse_line(raw)
            if event is not None:
                return event

    def _too_long(self) -> bool:
        self._overlong_lines += 1
        if self._overlong_lines >= MAX_OVERLONG_LINES:
            self._queue(Reply(421, "Too many over-long command lines, closing."))
            self.apply(Transition.CLOSE)
            return True
        self._queue(Reply(500, "Command line too long."))
        return False

    def _parse_line(self, raw: bytes) -> Command | None:
        line = _strip_telnet(raw.rstrip(b"\r")).decode("utf-8", "surrogateescape")
        verb, _, argument = line.lstrip(" ").partition(" ")
        if not verb:
            return None  # vsftpd ignores empty lines; so do we
        # Verbs are ASCII: str.upper() maps U+017F (long s) to "S" and U+0131 (dotless i) to
        # "I", so "u\u017fer" would pass for USER and "l\u0131st" for LIST.
        verb = verb.upper() if verb.isascii() else verb
        spec = COMMANDS.get(verb)
        if self._state is State.RENAME_PENDING and (spec is None or spec.name != "RNTO"):
            # RNFR must be followed at once by RNTO: any other line, even a bad one, ends it
            self._state = next_state(self._state, Transition.RENAME_CLEARED)
        if spec is None:
            self._unknown()
            return None
        if "\x00" in argument:
            self._queue(Reply(501, "NUL byte in argument refused."))
            return None
        if spec.argument is Argument.REQUIRED and not argument.strip():
            self._queue(Reply(501, f"{verb} needs an argument."))
            return None
        if spec.argument is Argument.NONE and argument.strip():
            self._queue(Reply(501, f"{verb} takes no argument."))
            return None
        if spec.access is Access.LOGGED_IN and not self.logged_in:
            self._queue(Reply(530, "Please login with USER and PASS."))
            return None
        if spec.name == "RNTO" and self._state is not State.RENAME_PENDING:
            self._queue(Reply(503, "RNFR required first."))
            return None
        if spec.name == "PASS" and self._state is State.AWAIT_USER:
            self._queue(Reply(503, "Login with USER first."))
            return None
        return Command(spec, verb, argument)

    def _unknown(self) -> None:
        if not self.logged_in:
            self._unknown_before_login += 1
            if self._unknown_before_login >= MAX_UNKNOWN_BEFORE_LOGIN:
                self._queue(Reply(421, "Too many unknown commands before login, closing."))
                self.apply(Transition.CLOSE)
                return
        self._queue(Reply(500, "Unknown command."))

    # -- output -----------------------------------------------------------------------
    def _queue(self, reply: Reply) -> None:
        self._outbound += reply.to_bytes()

    def send_reply(self, reply: Reply) -> None:
        self._queue(reply)

    def data_to_send(self) -> bytes:
        data = bytes(self._outbound)
        self._outbound.clear()
        return data

    # -- outcomes the driver reports ----------------------------------------------------
    def apply(self, transition: Transition) -> None:
        self._state = next_state(self._state, transition)
        if transition is Transition.TLS_ESTABLISHED:
            self._buffer.clear()

    def close(self) -> None:
        self.apply(Transition.CLOSE)
