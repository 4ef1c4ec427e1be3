"""FTP replies on the wire: one line, or RFC 959 multi-line (`ddd-` first, `ddd ` last)."""

from __future__ import annotations

import pytest

from ferryd.ftp.proto.replies import Reply

REPLY_TABLE: list[tuple[str, Reply, bytes]] = [
    ("one line", Reply(200, "NOOP ok."), b"200 NOOP ok.\r\n"),
    ("empty text", Reply(226, ""), b"226 \r\n"),
    ("two lines", Reply(230, "Welcome\nLogin successful."),
     b"230-Welcome\r\n230 Login successful.\r\n"),
    ("FEAT", Reply(211, "Features:\n EPSV\n UTF8\nEnd"),
     b"211-Features:\r\n EPSV\r\n UTF8\r\n211 End\r\n"),
    # a middle line that starts like a reply code would end the reply early for a client
    ("middle line starting with the code", Reply(211, "Status\n211 fake end\nEnd"),
     b"211-Status\r\n 211 fake end\r\n211 End\r\n"),
    ("middle line starting with another code", Reply(213, "Status\n226-x\nEnd"),
     b"213-Status\r\n 226-x\r\n213 End\r\n"),
    ("middle line with two digits is left alone", Reply(214, "Help\n12 ab\nOK"),
     b"214-Help\r\n12 ab\r\n214 OK\r\n"),
    ("an empty middle line", Reply(214, "a\n\nb"), b"214-a\r\n\r\n214 b\r\n"),
    ("a trailing newline ends with an empty last line", Reply(250, "done\n"),
     b"250-done\r\n250 \r\n"),
    ("utf-8 text", Reply(257, '"/caf\u00e9" created'), '257 "/caf\u00e9" created\r\n'.encode()),
    ("undecodable bytes go back out as they came", Reply(257, '"/caf\udce9" created'),
     b'257 "/caf\xe9" created\r\n'),
]


@pytest.mark.parametrize(
    ("reply", "wire"), [row[1:] for row in REPLY_TABLE], ids=[row[0] for row in REPLY_TABLE]
)
def test_reply_bytes(reply: Reply, wire: bytes) -> None:
    assert reply.to_bytes() == wire
    assert reply.lines() == wire.decode("utf-8", "surrogateescape").split("\r\n")[:-1]


def test_every_line_of_a_multi_line_reply_is_safe_for_a_client_to_parse() -> None:
    reply = Reply(211, "\n".join(["head", *(f"{code} x" for code in range(100, 1000, 37)), "end"]))
    lines = reply.lines()
    assert lines[0] == "211-head" and lines[-1] == "211 end"
    # only the last line looks like an end line: "ddd " at the start
    assert [line for line in lines if line[:3].isdigit() and line[3:4] == " "] == ["211 end"]


@pytest.mark.parametrize(("code", "is_error"), [(150, False), (226, False), (350, False),
                                                (399, False), (400, True), (421, True),
                                                (530, True), (553, True)])
def test_is_error(code: int, is_error: bool) -> None:
    assert Reply(code, "x").is_error is is_error


def test_replies_are_immutable_values() -> None:
    assert Reply(200, "a") == Reply(200, "a")
    assert Reply(200, "a") != Reply(200, "b")
    with pytest.raises(AttributeError):
        Reply(200, "a").code = 500  # type: ignore[misc]
