"""Slow and silent clients: hundreds of connections that send nothing or a byte at a time
(slowloris), stalled TLS handshakes, and a client that never reads its download. Real
clients keep being served throughout, and max_pending_logins closes the idle crowd."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import wait_until
from tests.reliability.clients import (
    ftp_download,
    ftp_login,
    ftp_upload,
    reset_close,
    run_bounded,
    sftp_download,
    sftp_upload,
)
from tests.reliability.conftest import Record
from tests.reliability.servers import USER, ProcessFootprint, all_protocols_server

PENDING_LIMIT = 40
CROWD_ADDRESSES = [f"127.0.0.{host}" for host in range(10, 20)]  # max_per_ip is per address
CROWD_PER_ADDRESS = 30  # 300 in all: more than max_per_ip's 50 from one address would allow
SLOW = f"max_pending_logins={PENDING_LIMIT}\ndata_connection_timeout=3\n"
PAYLOAD = os.urandom(256 << 10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, certificate: Path) -> Iterator[
        RunningFerryd]:
    with all_protocols_server(tmp_path_factory.mktemp("slow"), certificate, SLOW) as running:
        (running.home(USER) / "payload.bin").write_bytes(PAYLOAD)
        (running.home(USER) / "huge.bin").write_bytes(os.urandom(32 << 20))
        yield running


def _crowd(port: int) -> list[socket.socket]:
    crowd = []
    for address in CROWD_ADDRESSES:
        for _ in range(CROWD_PER_ADDRESS):
            sock = socket.socket()
            sock.settimeout(10)
            sock.bind((address, 0))
            sock.connect(("127.0.0.1", port))
            crowd.append(sock)
    return crowd


def _connect_from(index: int, port: int) -> socket.socket:
    """A connection from one of ten addresses (127.0.0.20-29), so max_per_ip does not bite."""
    sock = socket.socket()
    sock.settimeout(10)
    sock.bind((f"127.0.0.{20 + index % 10}", 0))
    sock.connect(("127.0.0.1", port))
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    """The server closed it (maybe after a 421 line); False while it is still open."""
    sock.settimeout(0)
    try:
        for _ in range(100):
            data = sock.recv(4096)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True
    return False


def _served(server: RunningFerryd, protocol: str, number: int) -> int:
    """One real session: upload then download; the bytes lost (0 when all is well)."""
    name = f"served-{protocol}-{number}.bin"
    if protocol == "sftp":
        run_bounded(sftp_upload(server, name, PAYLOAD))
        again = run_bounded(sftp_download(server, name))
    else:
        assert ftp_upload(server, protocol, name, PAYLOAD).startswith("226")
        again = ftp_download(server, protocol, name)
    (server.home(USER) / name).unlink()
    return 0 if again == PAYLOAD else len(PAYLOAD)


def _serve_until_cut_down(
    server: RunningFerryd, protocol: str, crowd: list[socket.socket]
) -> tuple[int, int]:
    """Real sessions until the server has closed all but PENDING_LIMIT of the crowd (each
    new connection pushes out those waiting past the grace); (bytes lost, sessions)."""
    lost, sessions = 0, 0

    def cut_down() -> bool:
        nonlocal lost, sessions
        lost += _served(server, protocol, 100 + sessions)
        sessions += 1
        return sum(not _closed_by_server(sock) for sock in crowd) <= PENDING_LIMIT

    assert wait_until(cut_down, 30)
    return lost, sessions


@contextlib.contextmanager
def _closing(crowd: list[socket.socket]) -> Iterator[list[socket.socket]]:
    try:
        yield crowd
    finally:
        for sock in crowd:
            sock.close()


def test_slowloris_crowd_does_not_stop_service(server: RunningFerryd, record: Record) -> None:
    """300 connections from 10 addresses: half silent, half sending `USER alice` a byte at a
    time. Real FTP, FTPS and SFTP sessions go on; the crowd is cut down to the limit."""
    with _closing(_crowd(server.ports["ftp"])) as crowd:
        greeted = sum(1 for sock in crowd if sock.recv(100).startswith(b"220"))
        tricklers = crowd[1::2]
        line = b"USER alice"
        lost, sessions = 0, 0
        for round_number in range(len(line)):
            for sock in tricklers:
                with contextlib.suppress(OSError):
                    sock.send(line[round_number:round_number + 1])
            protocol = ("ftp", "ftps", "ftps-implicit", "sftp")[round_number % 4]
            lost += _served(server, protocol, round_number)
            sessions += 1
        more_lost, more_sessions = _serve_until_cut_down(server, "ftp", crowd)
        lost, sessions = lost + more_lost, sessions + more_sessions
        still_open = sum(not _closed_by_server(sock) for sock in crowd)
    record(area="slow clients", fault=f"slowloris: {len(crowd)} connections from "
           f"{len(CROWD_ADDRESSES)} addresses, half silent, half a byte at a time",
           protocols="ftp, ftps, ftps-implicit, sftp", sessions=sessions,
           faults=len(crowd), bytes_lost=lost,
           detail=f"{greeted} greeted; max_pending_logins={PENDING_LIMIT} left {still_open} "
                  f"open; every real session served")
    assert greeted == len(crowd)
    assert lost == 0


def test_stalled_tls_handshakes(server: RunningFerryd, record: Record) -> None:
    """Implicit-port connections that send nothing or half a ClientHello, and AUTH TLS
    connections that never start the handshake; FTPS clients are still served."""
    stalled: list[socket.socket] = []
    with _closing(stalled):
        for number in range(60):
            sock = _connect_from(number, server.implicit_port)
            if number % 2:
                sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a truncated hello
            stalled.append(sock)
        for number in range(30):
            sock = _connect_from(number, server.ports["ftp"])
            assert sock.recv(100).startswith(b"220")
            sock.sendall(b"AUTH TLS\r\n")
            assert sock.recv(100).startswith(b"234")
            stalled.append(sock)
        lost, sessions = 0, 0
        for protocol in ("ftps", "ftps-implicit", "ftps", "ftps-implicit"):
            lost += _served(server, protocol, sessions)
            sessions += 1
        more_lost, more_sessions = _serve_until_cut_down(server, "ftps-implicit", stalled)
        lost, sessions = lost + more_lost, sessions + more_sessions
    record(area="slow clients", fault=f"{len(stalled)} stalled TLS handshakes (implicit port, "
           "half a ClientHello, AUTH TLS then nothing)", protocols="ftps, ftps-implicit",
           sessions=sessions, faults=len(stalled), bytes_lost=lost,
           detail="FTPS sessions served meanwhile; stalled ones closed down to the limit")
    assert lost == 0


@pytest.mark.parametrize("protocol", ["ftp", "ftps"])
def test_a_client_that_never_reads_its_download(
    server: RunningFerryd, protocol: str, record: Record
) -> None:
    baseline = ProcessFootprint.of(server.process.pid)
    client = ftp_login(server, protocol, timeout=30)
    try:
        data = client.transfercmd("RETR huge.bin")  # ... and never read
        lost = sum(_served(server, other, number)
                   for number, other in enumerate(("ftp", "ftps", "sftp")))
        reply = client.getline()  # data_connection_timeout=3: the stalled transfer ends
        reset_close(data)
        assert client.voidcmd("NOOP").startswith("200")
    finally:
        client.close()
    assert reply.startswith("426"), reply
    assert wait_until(
        lambda: ProcessFootprint.of(server.process.pid).open_fds <= baseline.open_fds, 15)
    record(area="slow clients", fault="a client that never reads its 32 MiB download",
           protocols=protocol, sessions=4, faults=1, bytes_lost=lost,
           detail=f"others served meanwhile; after data_connection_timeout: {reply[:3]}, "
                  "session kept, descriptors back")
    assert lost == 0


def test_silent_crowd_on_the_sftp_port(server: RunningFerryd, record: Record) -> None:
    """SSH connections that send nothing after the TCP handshake (or half a version line):
    SFTP and FTP sessions are served meanwhile, and max_pending_logins (shared by FTP and
    SSH) cuts the crowd down as new connections arrive."""
    crowd: list[socket.socket] = []
    with _closing(crowd):
        for number in range(200):
            sock = _connect_from(number, server.ports["sftp"])
            if number % 2:
                sock.sendall(b"SSH-2.0-")
            crowd.append(sock)
        lost = sum(_served(server, protocol, number)
                   for number, protocol in enumerate(("sftp", "ftp", "sftp", "ftps", "sftp")))
        more_lost, sessions = _serve_until_cut_down(server, "sftp", crowd)
        lost += more_lost
        still_open = sum(not _closed_by_server(sock) for sock in crowd)
        alive = server.process.poll() is None
    record(area="slow clients", fault="200 silent SSH connections (nothing, or half a "
           "version line)", protocols="sftp", sessions=5 + sessions, faults=len(crowd),
           bytes_lost=lost,
           detail=f"SFTP and FTP sessions served meanwhile; max_pending_logins={PENDING_LIMIT} "
                  f"left {still_open} open")
    assert alive
    assert lost == 0
