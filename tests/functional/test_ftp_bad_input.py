"""Bad input gets a proper reply, and the server goes on serving everyone else (issue 2)."""

from __future__ import annotations

import ftplib
import io
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import (
    PLAIN,
    RawFtp,
    ftp_client,
    receive_all,
    retrieve,
    shared_server,
    store,
    wait_until,
)

BIG = bytes(range(256)) * (16 << 12)  # 16 MiB: large enough to still be running when poked


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs") / "vsftpd.log"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, log_file: Path) -> Iterator[RunningFerryd]:
    config = PLAIN + f"accept_timeout=2\nvsftpd_log_file={log_file}\nxferlog_enable=YES\n"
    with shared_server(tmp_path_factory, config) as running:
        (running.home("alice") / "big.bin").write_bytes(BIG)
        (running.home("alice") / "small.txt").write_bytes(b"small")
        yield running


@pytest.fixture
def raw(server: RunningFerryd) -> Iterator[RawFtp]:
    with RawFtp(server.host, server.port) as client:
        yield client


def _still_serving(server: RunningFerryd) -> None:
    with ftp_client(server) as client:
        assert client.voidcmd("NOOP").startswith("200")
        assert client.size("small.txt") == 5


def _rst_close(sock: socket.socket) -> None:
    """Close with a TCP reset, as a client that crashed or lost its network would look."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# -- lines ------------------------------------------------------------------------------
def test_over_long_line_gets_500_and_the_session_continues(
    server: RunningFerryd, raw: RawFtp
) -> None:
    raw.send(b"NOOP " + b"x" * 10_000)
    assert raw.reply().code == 500
    assert raw.login().code == 230
    assert raw.cmd("NOOP").code == 200
    _still_serving(server)


def test_repeated_over_long_lines_close_the_connection(
    server: RunningFerryd, raw: RawFtp
) -> None:
    for _ in range(3):
        raw.send(b"USER " + b"y" * 10_000)
    codes = [raw.reply().code for _ in range(3)]
    assert codes == [500, 500, 421]
    assert raw.closed_by_server()
    _still_serving(server)


def test_an_endless_line_is_cut_off(server: RunningFerryd, raw: RawFtp) -> None:
    """A client that streams bytes without ever sending a newline is closed, not fed forever."""
    chunk = b"z" * 65536
    try:
        for _ in range(64):  # 4 MiB at most
            raw.send_raw(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    first = raw.reply()
    assert first.code == 500
    assert raw.reply().code == 421
    assert raw.closed_by_server()
    _still_serving(server)


def test_nul_bytes_in_a_path_are_refused_not_truncated(
    server: RunningFerryd, raw: RawFtp
) -> None:
    raw.login()
    assert raw.cmd(b"MKD evil\x00dir").code == 501
    assert raw.cmd(b"CWD small.txt\x00/..").code == 501
    first, _last = store(raw, "STOR harmless\x00.txt", b"data")
    assert first.code == 501
    assert raw.cmd(b"RETR small.txt\x00.exe").code == 501
    assert raw.cmd(b"DELE small.txt\x00").code == 501
    assert raw.cmd(b"RNFR small.txt\x00x").code == 501
    assert raw.cmd("NOOP").code == 200
    home = server.home("alice")
    assert not (home / "evil").exists()
    assert not (home / "harmless").exists()
    assert (home / "small.txt").read_bytes() == b"small"


def test_non_utf8_names_round_trip_as_bytes(server: RunningFerryd, raw: RawFtp) -> None:
    raw.login()
    name = b"latin1-\xe9t\xe9.txt"  # ISO-8859-1, not UTF-8
    first, last = store(raw, b"STOR " + name, b"bytes")  # type: ignore[arg-type]
    assert (first.code, last.code) == (150, 226)
    _first, listing, _last = retrieve(raw, "NLST")
    assert name in listing.split(b"\r\n")
    assert raw.cmd(b"SIZE " + name).code == 213
    assert raw.cmd(b"\xe9\xe8\xc0").code == 500  # a verb that is not UTF-8 (0xFF is Telnet IAC)
    assert raw.cmd("NOOP").code == 200
    home = bytes(server.home("alice"))
    with open(home + b"/" + name, "rb") as handle:
        assert handle.read() == b"bytes"
    _still_serving(server)


def test_bad_arguments_get_5xx(raw: RawFtp) -> None:
    raw.login()
    assert raw.cmd("REST -5").code == 501
    assert raw.cmd("REST abc").code == 501
    assert raw.cmd("TYPE X").code == 504
    assert raw.cmd("MODE Z").code == 504
    assert raw.cmd("SITE CHMOD xyz small.txt").code == 501
    assert raw.cmd("SITE CHMOD 644").code == 501
    assert raw.cmd("SITE UMASK 999").code == 501
    assert raw.cmd("SITE NONSENSE").code == 500
    assert raw.cmd("PWD extra").code == 501
    assert raw.cmd("RETR").code == 501
    assert raw.cmd("MFMT nonsense small.txt").code == 501
    assert raw.cmd("NOOP").code == 200


def test_line_endings_case_and_pipelining(raw: RawFtp) -> None:
    raw.send_raw(b"user alice\npass wonderland\n\r\n  NOOP\r\nsyst\r\n")
    assert [raw.reply().code for _ in range(4)] == [331, 230, 200, 215]
    raw.send_raw(b"\xff\xf4\xff\xf2NOOP\r\n")  # Telnet IP and DM before a command
    assert raw.reply().code == 200


# -- logins -----------------------------------------------------------------------------
def test_commands_before_login_are_530(raw: RawFtp) -> None:
    for command in ("PWD", "CWD /", "LIST", "RETR small.txt", "STOR x", "MKD d", "PASV",
                    "EPSV", "PORT 127,0,0,1,200,1", "SIZE small.txt", "SITE CHMOD 777 x",
                    "DELE small.txt", "TYPE I", "REST 0"):
        assert raw.cmd(command).code == 530, command
    assert raw.cmd("PASS wonderland").code == 503
    assert raw.cmd("FEAT").code == 211
    assert raw.cmd("SYST").code == 215
    assert raw.login().code == 230
    assert raw.cmd("USER bob").text == "530 Can't change to another user."
    assert raw.cmd("REIN").code == 220  # logged out again, connection kept
    assert raw.cmd("PWD").code == 530
    assert raw.login().code == 230
    assert raw.cmd("PWD").code == 257


def test_ten_unknown_commands_before_login_close_the_connection(
    server: RunningFerryd, raw: RawFtp
) -> None:
    codes = [raw.cmd(f"BOGUS{number}").code for number in range(9)]
    assert codes == [500] * 9
    assert raw.cmd("BOGUS9").code == 421
    assert raw.closed_by_server()
    _still_serving(server)


def test_unknown_commands_after_login_do_not_close(raw: RawFtp) -> None:
    raw.login()
    assert [raw.cmd(f"BOGUS{number}").code for number in range(12)] == [500] * 12
    assert raw.cmd("NOOP").code == 200


# -- transfers --------------------------------------------------------------------------
def test_abor_mid_download(server: RunningFerryd, raw: RawFtp) -> None:
    raw.login()
    raw.cmd("TYPE I")
    with raw.pasv() as data:
        assert raw.cmd("RETR big.bin").code == 150
        assert len(data.recv(65536)) > 0
        raw.send("ABOR")
        codes = [raw.reply().code, raw.reply().code]
        assert codes == [426, 226]
        assert len(receive_all(data)) < len(BIG)
    assert raw.cmd("NOOP").code == 200
    _first, payload, last = retrieve(raw, "RETR small.txt")
    assert (payload, last.code) == (b"small", 226)


def test_abor_without_transfer_is_225(raw: RawFtp) -> None:
    raw.login()
    assert raw.cmd("ABOR").code in (225, 226)


def test_ftplib_abort_with_urgent_data(server: RunningFerryd) -> None:
    """ftplib sends ABOR as TCP urgent data, as many clients do (vsftpd: async_abor_enable)."""
    with ftp_client(server) as client:
        assert client.sock is not None
        client.sock.settimeout(1.5)
        client.voidcmd("TYPE I")
        with client.transfercmd("RETR big.bin") as data:
            data.settimeout(10)
            assert data.recv(65536)
            reply = client.abort()
        assert reply[:3] in ("426", "226", "225")
        if reply.startswith("426"):
            assert client.getresp().startswith("226")
        assert client.voidcmd("NOOP").startswith("200")


def test_abor_mid_upload(server: RunningFerryd, raw: RawFtp) -> None:
    raw.login()
    raw.cmd("TYPE I")
    target = server.home("alice") / "aborted-upload.bin"
    with raw.pasv() as data:
        assert raw.cmd("STOR aborted-upload.bin").code == 150
        data.sendall(b"x" * 100_000)
        assert wait_until(lambda: target.exists() and target.stat().st_size == 100_000)
        raw.send("ABOR")
        assert [raw.reply().code, raw.reply().code] == [426, 226]
    assert raw.cmd("NOOP").code == 200
    assert target.read_bytes() == b"x" * 100_000  # delete_failed_uploads=NO keeps the part


def test_second_pasv_while_a_transfer_runs(server: RunningFerryd, raw: RawFtp) -> None:
    raw.login()
    raw.cmd("TYPE I")
    with raw.pasv() as data:
        assert raw.cmd("RETR big.bin").code == 150
        raw.send("PASV")
        payload = receive_all(data)
    assert payload == BIG
    first, second = raw.reply(), raw.reply()
    assert (first.code, second.code) == (226, 227)
    _still_serving(server)


def test_a_data_connection_that_never_comes_times_out(raw: RawFtp) -> None:
    raw.login()
    reply = raw.cmd("PASV")
    assert reply.code == 227
    assert raw.cmd("RETR small.txt").code == 425  # accept_timeout=2: the client never came
    assert raw.cmd("NOOP").code == 200
    _first, payload, last = retrieve(raw, "RETR small.txt")
    assert (payload, last.code) == (b"small", 226)


def test_port_to_a_closed_port_is_425(raw: RawFtp) -> None:
    raw.login()
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]  # bound, never listening: connections refused
        assert raw.cmd(f"PORT 127,0,0,1,{port // 256},{port % 256}").code == 200
        assert raw.cmd("RETR small.txt").code == 425
    assert raw.cmd("NOOP").code == 200


def test_client_vanishing_mid_upload_keeps_the_part(
    server: RunningFerryd, raw: RawFtp, log_file: Path
) -> None:
    """delete_failed_uploads=NO (the default): the bytes received stay on disk."""
    raw.login()
    raw.cmd("TYPE I")
    target = server.home("alice") / "vanished.bin"
    data = raw.pasv()
    assert raw.cmd("STOR vanished.bin").code == 150
    data.sendall(b"p" * 50_000)
    assert wait_until(lambda: target.exists() and target.stat().st_size == 50_000)
    _rst_close(data)
    _rst_close(raw.sock)
    failed = 'FAIL UPLOAD: Client "127.0.0.1", "/vanished.bin"'
    assert wait_until(lambda: log_file.exists() and failed in log_file.read_text())
    assert target.read_bytes() == b"p" * 50_000
    with ftp_client(server) as client:  # the lock is gone: the file can be replaced
        client.storbinary("STOR vanished.bin", io.BytesIO(b"again"))
    assert target.read_bytes() == b"again"


def test_client_vanishing_mid_upload_deletes_the_part_when_configured(
    start_ferryd: StartFerryd,
) -> None:
    with start_ferryd(PLAIN + "delete_failed_uploads=YES\n") as running:
        target = running.home("alice") / "vanished.bin"
        with RawFtp(running.host, running.port) as raw:
            raw.login()
            raw.cmd("TYPE I")
            data = raw.pasv()
            assert raw.cmd("STOR vanished.bin").code == 150
            data.sendall(b"p" * 50_000)
            assert wait_until(lambda: target.exists() and target.stat().st_size == 50_000)
            _rst_close(data)
            _rst_close(raw.sock)
        assert wait_until(lambda: not target.exists())
        with ftp_client(running) as client, pytest.raises(ftplib.error_perm, match=r"^550"):
            client.size("vanished.bin")
