"""Data connection modes: PASV, EPSV, PORT, EPRT over IPv4, and EPSV/EPRT over IPv6 (::1)."""

from __future__ import annotations

import ftplib
import io
import os
import socket
from collections.abc import Iterator

import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import (
    PASSWORD,
    TIMEOUT,
    USER,
    RawFtp,
    ftp_client,
    receive_all,
    shared_server,
)

PAYLOAD = os.urandom(700_001)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with shared_server(tmp_path_factory) as running:
        (running.home("alice") / "payload.bin").write_bytes(PAYLOAD)
        yield running


@pytest.fixture
def raw(server: RunningFerryd) -> Iterator[RawFtp]:
    with RawFtp(server.host, server.port) as client:
        assert client.login().code == 230
        assert client.cmd("TYPE I").code == 200
        yield client


def _listener(host: str = "127.0.0.1") -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(TIMEOUT)
    sock.bind((host, 0))
    sock.listen(1)
    return sock


def _port_argument(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return ",".join([*host.split("."), str(port // 256), str(port % 256)])


def _active_retr(raw: RawFtp, command: str, listener: socket.socket) -> bytes:
    first = raw.cmd(command)
    assert first.code == 150, first
    conn, _peer = listener.accept()
    with conn:
        payload = receive_all(conn)
    assert raw.reply().code == 226
    return payload


@pytest.mark.parametrize("passive", [True, False], ids=["PASV", "PORT"])
def test_ftplib_round_trip(server: RunningFerryd, passive: bool) -> None:
    received = io.BytesIO()
    with ftp_client(server) as client:
        client.set_pasv(passive)
        client.storbinary("STOR mode.bin", io.BytesIO(PAYLOAD))
        client.retrbinary("RETR mode.bin", received.write)
        assert client.nlst("mode.bin") == ["mode.bin"]
    assert received.getvalue() == PAYLOAD


def test_epsv(raw: RawFtp) -> None:
    with raw.epsv() as data:
        assert raw.cmd("RETR payload.bin").code == 150
        assert receive_all(data) == PAYLOAD
    assert raw.reply().code == 226
    assert raw.cmd("EPSV 1").code == 229
    assert raw.cmd("EPSV 2").code == 522


def test_port_and_eprt(raw: RawFtp) -> None:
    with _listener() as listener:
        assert raw.cmd(f"PORT {_port_argument(listener)}").text == (
            "200 PORT command successful. Consider using PASV."
        )
        assert _active_retr(raw, "RETR payload.bin", listener) == PAYLOAD
        port = listener.getsockname()[1]
        assert raw.cmd(f"EPRT |1|127.0.0.1|{port}|").code == 200
        assert _active_retr(raw, "RETR payload.bin", listener) == PAYLOAD


def test_bounce_and_bad_port_arguments_are_refused(raw: RawFtp) -> None:
    assert raw.cmd("PORT 10,1,2,3,200,1").code == 500  # a third party: FTP bounce
    assert raw.cmd("PORT 127,0,0,1,0,21").code == 500  # a privileged port
    assert raw.cmd("EPRT |1|10.1.2.3|51201|").code == 500
    for bad in ("PORT 1,2,3", "PORT a,b,c,d,e,f", "PORT 127,0,0,1,256,1", "PORT 127,0,0,1,0,0"):
        assert raw.cmd(bad).code in (500, 501), bad
    for bad in ("EPRT |3|127.0.0.1|5000|", "EPRT |1|::1|5000|", "EPRT |1|127.0.0.1|0|",
                "EPRT nonsense", "EPRT |1|127.0.0.1|70000|"):
        assert raw.cmd(bad).code in (500, 501, 522), bad
    with raw.pasv() as data:  # the session still works
        assert raw.cmd("RETR payload.bin").code == 150
        assert receive_all(data) == PAYLOAD
    assert raw.reply().code == 226


def test_transfer_without_port_or_pasv_is_425(raw: RawFtp) -> None:
    assert raw.cmd("RETR payload.bin").code == 425
    assert raw.cmd("NOOP").code == 200


def test_epsv_all_refuses_pasv_and_port(raw: RawFtp) -> None:
    assert raw.cmd("EPSV ALL").code == 200
    assert raw.cmd("PASV").code == 500
    assert raw.cmd("PORT 127,0,0,1,200,1").code == 500
    assert raw.cmd("EPRT |1|127.0.0.1|51201|").code == 500
    with raw.epsv() as data:
        assert raw.cmd("RETR payload.bin").code == 150
        assert receive_all(data) == PAYLOAD
    assert raw.reply().code == 226


def test_passive_port_ignores_a_stranger(raw: RawFtp) -> None:
    """A connection from another address to our passive port is not taken as the client."""
    reply = raw.cmd("EPSV")
    port = int(reply.text.split("|||")[1].split("|")[0])
    stranger = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stranger.settimeout(TIMEOUT)
    with stranger:
        stranger.bind(("127.0.0.2", 0))
        stranger.connect(("127.0.0.1", port))
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as data:
            assert raw.cmd("RETR payload.bin").code == 150
            assert receive_all(data) == PAYLOAD
        assert raw.reply().code == 226
        assert stranger.recv(100) == b""  # closed without a byte of the file


def test_port_bounce_of_a_stranger_address_is_refused(raw: RawFtp) -> None:
    with _listener("127.0.0.2") as listener:
        reply = raw.cmd(f"PORT {_port_argument(listener)}")
    assert reply.code == 500


def _ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_available(), reason="::1 is not available here")
def test_ipv6_epsv_and_eprt(start_ferryd: StartFerryd) -> None:
    config = (
        "listen=NO\nlisten_ipv6=YES\nlisten_address6=::1\nlisten_port=0\n"
        "local_enable=YES\nwrite_enable=YES\nlocal_umask=022\ndelay_failed_login=0\n"
    )
    with start_ferryd(config) as running:
        received = io.BytesIO()
        with ftplib.FTP() as client:
            client.connect("::1", running.port, timeout=TIMEOUT)
            client.login(USER, PASSWORD)
            assert client.storbinary("STOR six.bin", io.BytesIO(PAYLOAD)).startswith("226")
            client.set_pasv(False)  # EPRT |2|::1|port|
            client.retrbinary("RETR six.bin", received.write)
            assert client.nlst() == ["six.bin"]
        assert received.getvalue() == PAYLOAD
        with RawFtp("::1", running.port) as raw:
            raw.login()
            assert raw.cmd("PASV").code in (500, 522)
            assert raw.cmd("EPSV 1").code == 522
            with raw.epsv() as data:
                assert raw.cmd("RETR six.bin").code == 150
                assert receive_all(data) == PAYLOAD
            assert raw.reply().code == 226
            assert raw.cmd("EPRT |2|::2|5000|").code == 500
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", running.port), 2):
            pass


@pytest.mark.skipif(not _ipv6_available(), reason="::1 is not available here")
def test_listen_ipv6_on_any_address_serves_ipv4_too(start_ferryd: StartFerryd) -> None:
    """Debian/Ubuntu's vsftpd.conf: listen=NO, listen_ipv6=YES; '::' takes IPv4 and IPv6."""
    config = (
        "listen=NO\nlisten_ipv6=YES\nlisten_port=0\n"
        "local_enable=YES\nwrite_enable=YES\nlocal_umask=022\ndelay_failed_login=0\n"
    )
    with start_ferryd(config) as running:
        (running.home("alice") / "both.txt").write_bytes(b"both")
        for host in ("::1", "127.0.0.1"):
            for passive in (True, False):
                received = io.BytesIO()
                with ftplib.FTP() as client:
                    client.connect(host, running.port, timeout=TIMEOUT)
                    client.login(USER, PASSWORD)
                    client.set_pasv(passive)
                    client.retrbinary("RETR both.txt", received.write)
                assert received.getvalue() == b"both", (host, passive)
