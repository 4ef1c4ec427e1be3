"""proxy_protocol_enable on 127.0.0.1: headers sent by hand, as HAProxy would send them.

127.0.0.1 is the trusted balancer; 127.0.0.2 is a client that is not. test_nat.py runs the
same behind a real HAProxy in a namespace network; these run everywhere, in a few seconds.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferryd.proxy.header import V2_SIGNATURE
from tests.functional.conftest import PLAIN_CONFIG, StartFerryd
from tests.functional.ferryd_process import RunningFerryd, insecure_client_context
from tests.functional.raw_ftp import TIMEOUT, RawFtp, Reply, receive_all, wait_until

PROXIED = PLAIN_CONFIG + (
    "proxy_protocol_enable=YES\nproxy_protocol_trusted=127.0.0.1/32\n"
    "log_ftp_protocol=YES\nxferlog_enable=YES\n"
)
CLIENT, OTHER_CLIENT, FRONT = "198.51.100.7", "198.51.100.9", "192.0.2.1"


def v1(client: str, front: str = FRONT) -> bytes:
    return f"PROXY TCP4 {client} {front} 50000 21\r\n".encode()


def v2(client: str, front: str = FRONT) -> bytes:
    payload = (ipaddress.IPv4Address(client).packed + ipaddress.IPv4Address(front).packed
               + struct.pack("!HH", 50000, 30000))
    return V2_SIGNATURE + b"\x21\x11" + struct.pack("!H", len(payload)) + payload


class ProxiedFtp(RawFtp):
    """A control connection that sends `header` (a PROXY header, or anything) first."""

    def __init__(self, port: int, header: bytes, *, source: str = "127.0.0.1") -> None:
        self.host = "127.0.0.1"
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT,
                                             source_address=(source, 0))
        self._buffer = b""
        if header:
            self.sock.sendall(header)
        self.greeting = self.reply()


def closed(sock: socket.socket) -> bool:
    try:
        return all(sock.recv(65536) == b"" for _ in range(1))
    except (ConnectionResetError, BrokenPipeError):
        return True


def passive_port(reply: Reply) -> int:
    numbers = [int(n) for n in re.findall(r"\d+", reply.text.split("(", 1)[1])]
    return numbers[4] * 256 + numbers[5]


@pytest.fixture
def proxied_server(start_ferryd: StartFerryd) -> Iterator[RunningFerryd]:
    with start_ferryd(PROXIED) as server:
        yield server


def test_the_header_names_the_client_everywhere(proxied_server: RunningFerryd) -> None:
    server = proxied_server
    (server.home("alice")).mkdir(parents=True, exist_ok=True)
    (server.home("alice") / "a.txt").write_bytes(b"payload\n")
    with ProxiedFtp(server.port, v1(CLIENT)) as ftp:
        assert ftp.greeting.code == 220
        assert ftp.login().code == 230
        # no pasv_address: PASV announces the address the client connected to (the front)
        reply = ftp.cmd("PASV")
        assert reply.code == 227 and "(192,0,2,1," in reply.text, reply
        port = passive_port(reply)
        # a data connection from the balancer with no header is refused at its first byte
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as stray:
            stray.sendall(b"hello")
            assert closed(stray)
        # with a header naming this client it is this session's
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as data:
            data.sendall(v2(CLIENT))
            assert ftp.cmd("RETR a.txt").code == 150
            assert receive_all(data) == b"payload\n"
        assert ftp.reply().code == 226
        # the client's own address is the one PORT must name (anti-bounce)
        assert ftp.cmd("PORT 127,0,0,1,200,10").code == 500
    assert server.wait_for_line(
        re.compile(r"data connection from trusted proxy 127\.0\.0\.1 closed: no PROXY"), 10)


def test_a_header_naming_another_client_does_not_get_the_data_connection(
    proxied_server: RunningFerryd,
) -> None:
    """pasv_promiscuous=NO with the address the header gives."""
    server = proxied_server
    (server.home("alice")).mkdir(parents=True, exist_ok=True)
    (server.home("alice") / "a.txt").write_bytes(b"payload\n")
    with ProxiedFtp(server.port, v1(CLIENT)) as ftp:
        assert ftp.login().code == 230
        port = passive_port(ftp.cmd("PASV"))
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as thief:
            thief.sendall(v1(OTHER_CLIENT))
            assert closed(thief)


def test_peers_that_are_not_trusted(proxied_server: RunningFerryd) -> None:
    server = proxied_server
    with ProxiedFtp(server.port, b"", source="127.0.0.2") as ftp:  # served as themselves
        assert ftp.greeting.code == 220 and ftp.login().code == 230
    with ProxiedFtp(server.port, b"", source="127.0.0.2") as ftp:  # a header is refused
        ftp.send_raw(v1(CLIENT))
        assert closed(ftp.sock)
    assert server.wait_for_line(re.compile(
        r"control connection from 127\.0\.0\.2 closed: it sent a PROXY header but is not in "
        r"proxy_protocol_trusted"), 10)


def test_a_trusted_peer_without_a_header_is_closed(proxied_server: RunningFerryd) -> None:
    server = proxied_server
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"USER alice\r\n")
        assert closed(sock)
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"PROXY TCP4 198.51.100.7 192.0.2.1 1 99999\r\n")
        assert closed(sock)
    assert server.wait_for_line(re.compile(
        r"control connection from trusted proxy 127\.0\.0\.1 closed: no PROXY protocol header"),
        10)
    assert server.wait_for_line(re.compile(r"trusted proxy 127\.0\.0\.1 closed: .*0-65535"), 10)


def test_logs_bans_and_max_per_ip_see_the_real_clients(
    start_ferryd: StartFerryd, tmp_path: Path
) -> None:
    log = tmp_path / "ferryd.log"
    config = PROXIED + (
        f"vsftpd_log_file={log}\nban_enable=YES\nban_max_failures=2\nmax_per_ip=2\n"
    )
    with start_ferryd(config) as server:
        for _attempt in range(2):
            with ProxiedFtp(server.port, v1(CLIENT)) as ftp:
                assert ftp.cmd("USER alice").code == 331
                assert ftp.cmd("PASS guess").code == 530
        with ProxiedFtp(server.port, v1(CLIENT)) as banned:
            assert banned.greeting.code == 421
        held = [ProxiedFtp(server.port, v1(OTHER_CLIENT)) for _ in range(2)]
        try:
            with ProxiedFtp(server.port, v1(OTHER_CLIENT)) as third:
                assert third.greeting.text.startswith("421 There are too many connections")
            with ProxiedFtp(server.port, v2("198.51.100.10")) as other:
                assert other.greeting.code == 220 and other.login().code == 230
        finally:
            for ftp in held:
                ftp.close()
        # the log is written beside the sessions: wait for the last line
        assert wait_until(lambda: 'OK LOGIN: Client "198.51.100.10"' in log.read_text())
        text = log.read_text()
        assert f'FAIL LOGIN: Client "{CLIENT}"' in text
        assert "127.0.0.1" not in text


def test_implicit_tls_after_the_header(
    start_ferryd: StartFerryd, certificate: Path
) -> None:
    config = PROXIED + f"ssl_enable=YES\nimplicit_ssl=YES\nrsa_cert_file={certificate}\n"
    with start_ferryd(config, want=("ftps-implicit",)) as server:
        context = insecure_client_context()
        for header in (v1(CLIENT), v2(CLIENT)):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
            raw.sendall(header)  # the ClientHello follows at once, as HAProxy forwards it
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.recv(100).startswith(b"220")
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT,
                                       source_address=("127.0.0.2", 0))
        raw.sendall(v1(CLIENT))
        # the handshake fails: wrap without it, so the socket is closed here, not by the GC
        # (whose ResourceWarning would surface in whichever test runs next)
        with (context.wrap_socket(raw, server_hostname="localhost",
                                  do_handshake_on_connect=False) as tls,
              pytest.raises((ssl.SSLError, ConnectionError))):
            tls.do_handshake()
            tls.recv(100)
        assert server.wait_for_line(re.compile(r"127\.0\.0\.2 closed: it sent a PROXY header"),
                                    10)


def test_proxy_protocol_needs_trusted_peers(tmp_path: Path) -> None:
    config = tmp_path / "ferryd.conf"
    config.write_text(PLAIN_CONFIG + "proxy_protocol_enable=YES\n")
    checked = subprocess.run(
        [sys.executable, "-m", "ferryd.cli", "check-config", str(config)],
        capture_output=True, text=True, check=False,
    )
    assert checked.returncode == 2
    assert "proxy_protocol_enable=YES needs proxy_protocol_trusted" in checked.stderr
