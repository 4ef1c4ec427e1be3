"""Hostile protocol input: 1 MiB command lines, random bytes with NUL, control characters
and invalid UTF-8, PORT bounce to a third party, a passive connection hijack from another
address, plaintext on the implicit-TLS port, TLS downgrade attempts, malformed SFTP packets.
Each gets a reply, a refusal or a clean close; the server keeps serving."""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest

from tests.functional.ferryd_process import RunningFerryd, insecure_client_context
from tests.functional.raw_ftp import RawFtp, receive_all
from tests.reliability.clients import ftp_download, ftp_login, run_bounded, sftp_download
from tests.reliability.conftest import Record
from tests.reliability.servers import PASSWORD, USER, all_protocols_server

PAYLOAD = bytes(range(256)) * 64
STRICT_TLS = "force_local_logins_ssl=YES\nforce_local_data_ssl=YES\n"
SEED = 7  # random inputs are the same on every run: a failure reproduces


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, certificate: Path) -> Iterator[
        RunningFerryd]:
    with all_protocols_server(tmp_path_factory.mktemp("hostile"), certificate,
                              STRICT_TLS) as running:
        (running.home(USER) / "payload.bin").write_bytes(PAYLOAD)
        yield running


def _still_serving(server: RunningFerryd) -> bool:
    served = ftp_download(server, "ftps", "payload.bin") == PAYLOAD
    return served and run_bounded(sftp_download(server, "payload.bin")) == PAYLOAD


def _no_internal_errors(server: RunningFerryd) -> bool:
    text = server.read_stderr()
    return "Traceback" not in text and "internal error" not in text


def _tls_raw(server: RunningFerryd) -> RawFtp:
    """A RawFtp whose control connection is TLS (AUTH TLS done), not yet logged in."""
    raw = RawFtp(server.host, server.ports["ftp"])
    assert raw.cmd("AUTH TLS").code == 234
    raw.sock = insecure_client_context().wrap_socket(raw.sock, server_hostname="localhost")
    return raw


def test_one_mib_command_lines(server: RunningFerryd, record: Record) -> None:
    line = b"USER " + b"A" * (1 << 20) + b"\r\n"
    outcomes = []
    for when in ("plain, before login", "TLS, before login", "TLS, after login"):
        raw = _tls_raw(server) if when.startswith("TLS") else RawFtp(
            server.host, server.ports["ftp"])
        with raw:
            if when.endswith("after login"):
                assert raw.login().code == 230
            try:
                raw.send_raw(line)
                first = raw.reply().code
            except (OSError, EOFError):
                first = 0  # closed before the whole line was taken: also fine
            outcomes.append(first)
    assert all(code in (0, 500, 421) for code in outcomes), outcomes
    assert _still_serving(server)
    assert _no_internal_errors(server)
    record(area="hostile input", fault="1 MiB command lines (plain, TLS, before and after "
           "login)", protocols="ftp, ftps", sessions=5, inputs=len(outcomes),
           detail=f"first replies {outcomes} (500: line too long; 0: closed)")


def _random_line(rng: random.Random) -> bytes:
    verbs = [b"USER", b"PASS", b"CWD", b"RETR", b"STOR", b"PORT", b"EPRT", b"SITE", b"MLST",
             b"REST", b"RNFR", b"OPTS", b"HELP", b"AUTH", b"PBSZ", b"PROT", b"\xff\xf4X",
             b"\x00", b"N\x00OP", b"\xc0\xae", b"\x1b[2J"]
    body = bytes(rng.choice((0, 1, 7, 8, 10, 13, 27, 127, 128, 192, 255, rng.randrange(256)))
                 for _ in range(rng.randrange(0, 60)))
    return rng.choice(verbs) + rng.choice((b" ", b"", b"  ", b"\t")) + body


def _replies_until_noop(raw: RawFtp) -> int:
    """Read replies up to the NOOP's; how many came before it."""
    for count in range(10):
        reply = raw.reply()
        assert 100 <= reply.code < 600, reply
        if reply.text == "200 NOOP ok.":
            return count
    raise AssertionError("no NOOP reply among ten")


def test_random_bytes_with_nul_control_and_invalid_utf8(
    server: RunningFerryd, record: Record
) -> None:
    """1000 seeded random lines over TLS after login; a new session whenever the server
    closes one (too many errors before login, say)."""
    rng = random.Random(SEED)
    sent, sessions, replies = 0, 0, 0
    while sent < 1000 and sessions < 200:
        sessions += 1
        with _tls_raw(server) as raw:
            raw.login()
            try:
                for _ in range(100):
                    line = _random_line(rng).replace(b"\n", b" ").replace(b"\r", b" ")
                    raw.send(line + b"\r\nNOOP")  # a line of Telnet codes alone gets no reply
                    sent += 1
                    replies += _replies_until_noop(raw)
            except (OSError, EOFError):
                pass
    assert sent >= 1000
    assert _still_serving(server)
    assert _no_internal_errors(server)
    record(area="hostile input", fault="random command lines: NUL, control bytes, invalid "
           f"UTF-8, Telnet codes (seed {SEED})", protocols="ftps", sessions=sessions,
           inputs=sent, detail=f"{replies} replies, {sessions} sessions, no internal error")


def _listener(host: str) -> socket.socket:
    sock = socket.socket()
    sock.settimeout(5)
    sock.bind((host, 0))
    sock.listen(1)
    return sock


def test_port_bounce_to_a_third_party(server: RunningFerryd, record: Record) -> None:
    """PORT/EPRT naming another address, or a privileged port of the client's address."""
    client = ftp_login(server, "ftps")
    codes = []
    try:
        with _listener("127.0.0.2") as third:
            host, port = third.getsockname()
            arguments = [f"PORT {host.replace('.', ',')},{port // 256},{port % 256}",
                         f"EPRT |1|{host}|{port}|", "PORT 127,0,0,1,0,25", "EPRT |1|127.0.0.1|22|",
                         "PORT 10,0,0,1,0,80", "EPRT |2|::2|8080|"]
            for argument in arguments:
                try:
                    codes.append(int(client.sendcmd(argument)[:3]))
                except Exception as exc:  # ftplib raises error_perm for 5xx
                    codes.append(int(str(exc)[:3]))
            third.settimeout(0.5)
            with pytest.raises(TimeoutError):
                third.accept()  # nobody was sent to the third party
    finally:
        client.close()
    assert all(code >= 500 for code in codes), codes
    record(area="hostile input", fault="PORT/EPRT bounce to a third party (127.0.0.2, "
           "ports 22/25/80 elsewhere, IPv6)", protocols="ftps", sessions=1,
           inputs=len(codes), detail=f"replies {sorted(set(codes))}; no connection made")


def test_passive_hijack_from_another_address(server: RunningFerryd, record: Record) -> None:
    """127.0.0.2 connects to the passive port first; the file goes to the client only."""
    with RawFtp(server.host, server.ports["ftp"]) as raw:
        assert raw.cmd("AUTH TLS").code == 234
        context = insecure_client_context()
        raw.sock = context.wrap_socket(raw.sock, server_hostname="localhost")
        raw.login()
        raw.cmd("PBSZ 0")
        raw.cmd("PROT C")  # refused here (force_local_data_ssl): the hijacker gets nothing
        prot = raw.cmd("PROT P").code
        reply = raw.cmd("EPSV")
        port = int(reply.text.split("|||")[1].split("|")[0])
        stranger = socket.socket()
        stranger.settimeout(10)
        with stranger:
            stranger.bind(("127.0.0.2", 0))
            stranger.connect(("127.0.0.1", port))
            with socket.create_connection(("127.0.0.1", port), timeout=10) as data:
                assert raw.cmd("RETR payload.bin").code == 150
                with context.wrap_socket(data, server_hostname="localhost",
                                         session=raw.sock.session) as tls:  # type: ignore[attr-defined]
                    received = receive_all(tls)
            final = raw.reply().code
            stolen = stranger.recv(100)
    assert (prot, final) == (200, 226)
    assert received == PAYLOAD
    assert stolen == b""
    record(area="hostile input", fault="passive connection hijack from 127.0.0.2",
           protocols="ftps", sessions=1, inputs=1,
           detail="the stranger was closed with 0 bytes; the client got the whole file")


def test_plaintext_on_the_implicit_port(server: RunningFerryd, record: Record) -> None:
    inputs = [b"USER alice\r\nPASS wonderland\r\n", b"GET / HTTP/1.0\r\n\r\n",
              b"SSH-2.0-OpenSSH_9\r\n", b"\x00" * 1024, bytes(range(256)) * 8]
    answers = []
    for data in inputs:
        with socket.create_connection(("127.0.0.1", server.implicit_port), timeout=30) as sock:
            try:
                sock.sendall(data)
                answers.append(sock.recv(4096))
            except ConnectionError:
                answers.append(b"")
    assert all(not answer.startswith((b"220", b"331", b"230")) for answer in answers), answers
    assert _still_serving(server)
    record(area="hostile input", fault="plaintext FTP, HTTP, SSH and binary on the implicit "
           "TLS port", protocols="ftps-implicit", sessions=2, inputs=len(inputs),
           detail="closed without a plaintext reply; FTPS and SFTP still served")


def _old_tls_context() -> ssl.SSLContext:
    context = insecure_client_context()
    with warnings.catch_warnings():  # deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("ALL:@SECLEVEL=0")
    return context


def test_tls_downgrade_attempts(server: RunningFerryd, record: Record) -> None:
    """TLS 1.0/1.1 only, a login before AUTH, plaintext pipelined behind AUTH TLS (command
    injection), PROT C (clear data) and CCC (clear control) on a TLS-required server."""
    seen: dict[str, object] = {}
    for port, name in ((server.implicit_port, "implicit"), (server.ports["ftp"], "explicit")):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            if name == "explicit":
                sock.recv(100)
                sock.sendall(b"AUTH TLS\r\n")
                sock.recv(100)
            try:
                with _old_tls_context().wrap_socket(sock, server_hostname="localhost"):
                    seen[f"TLS 1.0/1.1 {name}"] = "accepted"
            except (ssl.SSLError, ConnectionError) as exc:
                seen[f"TLS 1.0/1.1 {name}"] = type(exc).__name__
    with RawFtp(server.host, server.ports["ftp"]) as raw:
        seen["USER before AUTH"] = raw.cmd(f"USER {USER}").code
    with RawFtp(server.host, server.ports["ftp"]) as raw:
        raw.send_raw(b"AUTH TLS\r\nUSER alice\r\nPASS wonderland\r\n")
        seen["AUTH with plaintext pipelined"] = raw.reply().code
        seen["then"] = "closed" if raw.closed_by_server() else "open"
    with _tls_raw(server) as raw:
        raw.login()
        raw.cmd("PBSZ 0")
        seen["PROT C"] = raw.cmd("PROT C").code
        seen["CCC"] = raw.cmd("CCC").code
        seen["RETR unprotected"] = raw.cmd("RETR payload.bin").code
        assert raw.cmd("NOOP").code == 200
    assert str(seen["TLS 1.0/1.1 implicit"]).endswith("Error")
    assert str(seen["TLS 1.0/1.1 explicit"]).endswith("Error")
    assert seen["USER before AUTH"] == 530
    assert (seen["AUTH with plaintext pipelined"], seen["then"]) == (234, "closed")
    assert seen["PROT C"] in (534, 536, 521, 504) and seen["CCC"] >= 500
    assert seen["RETR unprotected"] in (521, 522, 425)
    assert _still_serving(server)
    record(area="hostile input", fault="TLS downgrade: TLS 1.0/1.1, login before AUTH, "
           "plaintext injected behind AUTH TLS, PROT C, CCC", protocols="ftps, ftps-implicit",
           sessions=6, inputs=len(seen),
           detail="; ".join(f"{key}: {value}" for key, value in seen.items()))


async def _malformed_sftp(server: RunningFerryd, rng: random.Random) -> tuple[int, int]:
    """Random SFTP packets (bad types, lengths, truncated fields) on fresh SFTP channels of
    one SSH connection; (packets sent, channels used)."""
    sent, channels = 0, 0
    async with asyncssh.connect(
        server.host, server.ports["sftp"], username=USER, password=PASSWORD,
        known_hosts=None, client_keys=None, agent_path=None, config=None,
    ) as conn:
        while sent < 400 and channels < 200:
            channels += 1
            writer, reader, _ = await conn.open_session(subsystem="sftp", encoding=None)
            writer.write(struct.pack(">IBI", 5, 1, 3))  # INIT v3
            await asyncio.wait_for(reader.read(4096), 30)
            for _ in range(40):
                kind = rng.choice((3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                   20, 200, 0, 255, rng.randrange(256)))
                body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
                length = rng.choice((len(body) + 1, len(body) + 1, 0, 1, 0xFFFFFFFF,
                                     len(body) + 50))
                writer.write(struct.pack(">IB", length, kind) + body)
                sent += 1
                if length != len(body) + 1:
                    break  # the framing is broken: this channel is done
            writer.close()
    return sent, channels


def test_malformed_sftp_packets(server: RunningFerryd, record: Record) -> None:
    rng = random.Random(SEED)
    sent, channels = run_bounded(_malformed_sftp(server, rng), 300)  # type: ignore[misc]
    assert _still_serving(server)
    assert _no_internal_errors(server)
    record(area="hostile input", fault=f"malformed SFTP packets: random types, lengths and "
           f"bodies (seed {SEED})", protocols="sftp", sessions=channels, inputs=sent,
           detail=f"{sent} packets over {channels} channels; server served SFTP after")
