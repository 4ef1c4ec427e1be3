"""TYPE A: converted as vsftpd converts when ascii_upload_enable/ascii_download_enable, else not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import PLAIN, RawFtp, retrieve, shared_server, store

# Enough lines that CRLF pairs fall across the server's 256 KiB read and write chunks.
UNIX_TEXT = b"".join(b"line %06d: some text\n" % number for number in range(40_000))
DOS_TEXT = UNIX_TEXT.replace(b"\n", b"\r\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    config = PLAIN + "ascii_upload_enable=YES\nascii_download_enable=YES\n"
    with shared_server(tmp_path_factory, config) as running:
        yield running


@pytest.fixture
def raw(server: RunningFerryd) -> Iterator[RawFtp]:
    with RawFtp(server.host, server.port) as client:
        assert client.login().code == 230
        yield client


def test_ascii_upload_turns_crlf_into_lf(server: RunningFerryd, raw: RawFtp) -> None:
    assert raw.cmd("TYPE A").code == 200
    first, last = store(raw, "STOR text.txt", DOS_TEXT)
    assert (first.code, last.code) == (150, 226)
    assert (server.home("alice") / "text.txt").read_bytes() == UNIX_TEXT


def test_ascii_upload_keeps_lone_cr(server: RunningFerryd, raw: RawFtp) -> None:
    assert raw.cmd("TYPE A").code == 200
    store(raw, "STOR cr.txt", b"a\rb\r\nc\r\r\nend\r")
    assert (server.home("alice") / "cr.txt").read_bytes() == b"a\rb\nc\r\nend\r"


def test_ascii_download_turns_lf_into_crlf(server: RunningFerryd, raw: RawFtp) -> None:
    (server.home("alice") / "unix.txt").write_bytes(UNIX_TEXT)
    (server.home("alice") / "mixed.txt").write_bytes(b"a\nb\r\nc")
    assert raw.cmd("TYPE A").code == 200
    first, payload, last = retrieve(raw, "RETR unix.txt")
    assert first.text.startswith("150 Opening ASCII mode data connection")
    assert (payload == DOS_TEXT, last.code) == (True, 226)
    _first, payload, _last = retrieve(raw, "RETR mixed.txt")
    assert payload == b"a\r\nb\r\nc"


def test_binary_type_is_untouched(server: RunningFerryd, raw: RawFtp) -> None:
    assert raw.cmd("TYPE I").code == 200
    store(raw, "STOR bin.txt", DOS_TEXT)
    _first, payload, _last = retrieve(raw, "RETR bin.txt")
    assert payload == DOS_TEXT
    assert (server.home("alice") / "bin.txt").read_bytes() == DOS_TEXT


def test_resume_in_ascii_mode_is_refused_as_vsftpd_does(
    server: RunningFerryd, raw: RawFtp
) -> None:
    (server.home("alice") / "resume.txt").write_bytes(UNIX_TEXT)
    assert raw.cmd("TYPE A").code == 200
    assert raw.cmd("REST 10").code == 350
    first, payload, _last = retrieve(raw, "RETR resume.txt")
    assert first.text == "550 No support for resume of ASCII transfer."
    assert payload == b""
    assert raw.cmd("TYPE I").code == 200
    assert raw.cmd("REST 10").code == 350
    _first, payload, last = retrieve(raw, "RETR resume.txt")
    assert (payload, last.code) == (UNIX_TEXT[10:], 226)


def test_ascii_type_without_the_options_transfers_bytes_as_they_are(
    start_ferryd: StartFerryd,
) -> None:
    with start_ferryd(PLAIN) as running:
        home = running.home("alice")
        home.mkdir(parents=True, exist_ok=True)
        (home / "unix.txt").write_bytes(b"a\nb\n")
        with RawFtp(running.host, running.port) as raw:
            raw.login()
            assert raw.cmd("TYPE A").code == 200
            _first, payload, _last = retrieve(raw, "RETR unix.txt")
            store(raw, "STOR dos.txt", b"c\r\nd\r\n")
    assert payload == b"a\nb\n"
    assert (home / "dos.txt").read_bytes() == b"c\r\nd\r\n"
