"""The FTP protocol core on arbitrary bytes: it never raises, and all it sends are replies."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ferryd.ftp.proto.commands import COMMANDS
from ferryd.ftp.proto.core import FtpConnectionCore, Signal
from fuzz.ftp_core import assert_only_replies, drive

_VERBS = sorted(COMMANDS)
_LINE = st.one_of(
    st.binary(max_size=120),
    st.builds(
        lambda verb, argument: verb.encode() + b" " + argument,
        st.sampled_from(_VERBS), st.binary(max_size=40),
    ),
)


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
    assert_only_replies(drive(core, chunks, log_in))
    assert core.next_event() is Signal.CLOSED  # EOF was fed: the core has closed
