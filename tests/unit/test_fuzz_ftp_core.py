"""The FTP protocol core on arbitrary bytes: it never raises, and all it sends are replies."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ferryd.ftp.proto.commands import COMMANDS
from ferryd.ftp.proto.core import Command, FtpConnectionCore, Signal
from ferryd.ftp.proto.replies import Reply
from ferryd.ftp.proto.state import Transition

_REPLY_LINE = re.compile(rb"^(\d{3}[ -].*| .*)$")
_VERBS = sorted(COMMANDS)
_LINE = st.one_of(
    st.binary(max_size=120),
    st.builds(
        lambda verb, argument: verb.encode() + b" " + argument,
        st.sampled_from(_VERBS), st.binary(max_size=40),
    ),
)


def _drive(core: FtpConnectionCore, chunks: list[bytes], log_in: bool) -> bytes:
    sent = bytearray()
    for chunk in [*chunks, b""]:
        core.receive_data(chunk)
        while True:
            event = core.next_event()
            sent += core.data_to_send()
            if event in (Signal.NEED_DATA, Signal.CLOSED, Signal.PAUSED):
                break
            assert isinstance(event, Command)
            assert "\x00" not in event.argument
            assert event.spec is COMMANDS[event.spec.name]
            # as the handlers do: USER/PASS change state only before login
            if log_in and not core.logged_in and event.name == "USER":
                core.apply(Transition.USER_ACCEPTED)
            elif log_in and not core.logged_in and event.name == "PASS":
                core.apply(Transition.LOGIN_SUCCEEDED)
            core.send_reply(Reply(200, "ok"))
        if core.state.value == "closed":
            break
    return bytes(sent)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_LINE, max_size=30),
    st.sampled_from([b"\r\n", b"\n"]),
    st.integers(min_value=1, max_value=64),
    st.booleans(),
)
def test_arbitrary_input_gets_replies_or_a_clean_close(
    lines: list[bytes], ending: bytes, chunk_size: int, log_in: bool
) -> None:
    stream = b"".join(line + ending for line in lines)
    chunks = [stream[i : i + chunk_size] for i in range(0, len(stream), chunk_size)]
    core = FtpConnectionCore(max_line_length=512)
    sent = _drive(core, chunks, log_in)
    for line in sent.split(b"\r\n")[:-1]:
        assert _REPLY_LINE.match(line), line
    assert sent.endswith(b"\r\n") or not sent
    assert core.next_event() is Signal.CLOSED  # EOF was fed: the core has closed
