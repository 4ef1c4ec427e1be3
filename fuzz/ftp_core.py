"""atheris target: the FTP protocol core (ferryd.ftp.proto) on arbitrary bytes, for long runs.

    python3 -m pip install "atheris>=2.3,<3"        # or: pip install ".[fuzz]"
    PYTHONPATH=$PWD/src:$PWD python3 fuzz/ftp_core.py -max_total_time=3600 -rss_limit_mb=2048

The same properties as tests/unit/test_fuzz_ftp_core.py (hypothesis, bounded, in the suite):
no exception escapes, everything sent is a well-formed reply, and end of input closes.
"""

from __future__ import annotations

import re

from ferryd.ftp.proto.commands import COMMANDS
from ferryd.ftp.proto.core import Command, FtpConnectionCore, Signal
from ferryd.ftp.proto.replies import Reply
from ferryd.ftp.proto.state import Transition
from fuzz import run

REPLY_LINE = re.compile(rb"^(\d{3}[ -].*| .*)$")


def drive(core: FtpConnectionCore, chunks: list[bytes], log_in: bool) -> bytes:
    """Feed the chunks then end of input, answering every command as the handlers would
    (USER and PASS log in when `log_in`); all the core sent."""
    sent = bytearray()
    for chunk in [*chunks, b""]:
        core.receive_data(chunk)
        for _ in range(10_000):
            event = core.next_event()
            sent += core.data_to_send()
            if event in (Signal.NEED_DATA, Signal.CLOSED, Signal.PAUSED):
                break
            assert isinstance(event, Command)
            assert "\x00" not in event.argument
            assert event.spec is COMMANDS[event.spec.name]
            if log_in and not core.logged_in and event.name == "USER":
                core.apply(Transition.USER_ACCEPTED)
            elif log_in and not core.logged_in and event.name == "PASS":
                core.apply(Transition.LOGIN_SUCCEEDED)
            core.send_reply(Reply(200, "ok"))
        else:
            raise AssertionError("the core produced events without end")
        if core.state.value == "closed":
            break
    return bytes(sent)


def assert_only_replies(sent: bytes) -> None:
    for line in sent.split(b"\r\n")[:-1]:
        assert REPLY_LINE.match(line), line
    assert sent.endswith(b"\r\n") or not sent


def check(data: bytes) -> None:
    """One input: the first byte picks the chunk size and whether to log in; the rest is
    what the client sends. Raises AssertionError (or anything else) on a finding."""
    if not data:
        return
    chunk_size, log_in, stream = (data[0] & 0x3F) + 1, bool(data[0] & 0x40), data[1:]
    core = FtpConnectionCore(max_line_length=512)
    chunks = [stream[i:i + chunk_size] for i in range(0, len(stream), chunk_size)]
    assert_only_replies(drive(core, chunks, log_in))
    assert core.next_event() is Signal.CLOSED


def main() -> None:
    run(check)


if __name__ == "__main__":
    main()
