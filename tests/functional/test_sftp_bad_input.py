"""Bad SFTP and SSH input: answered with the right status or a clean disconnect, and the
server keeps serving. Raw SFTP packets go through asyncssh's client channel."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterator

import asyncssh
import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.ssh_clients import PASSWORD, USER, sftp_server

TIMEOUT = 30.0
INIT, VERSION, OPEN, CLOSE, READ, WRITE, STAT = 1, 2, 3, 4, 5, 6, 17
STATUS, HANDLE, DATA = 101, 102, 103
FX_OK, FX_EOF, FX_PERMISSION_DENIED, FX_FAILURE = 0, 1, 3, 4
FX_BAD_MESSAGE, FX_OP_UNSUPPORTED = 5, 8
READ_FLAG, WRITE_FLAGS = 1, 0x02 | 0x08 | 0x10  # FXF_READ; FXF_WRITE|CREAT|TRUNC


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with sftp_server(tmp_path_factory.mktemp("sftp")) as running:
        (running.home(USER) / "five-mib.bin").write_bytes(b"\x5a" * (5 << 20))
        yield running


def string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


class RawSftp:
    def __init__(self, writer: asyncssh.SSHWriter[bytes], reader: asyncssh.SSHReader[bytes]):
        self.writer, self.reader = writer, reader
        self.next_id = 1

    def send(self, kind: int, body: bytes) -> None:
        self.writer.write(struct.pack(">IB", len(body) + 1, kind) + body)

    async def receive(self) -> tuple[int, bytes]:
        length = struct.unpack(">I", await self.reader.readexactly(4))[0]
        packet = await self.reader.readexactly(length)
        return packet[0], packet[1:]

    async def request(self, kind: int, body: bytes) -> tuple[int, bytes]:
        """Send with a request id; the reply's type and what follows its id."""
        request_id = self.next_id
        self.next_id += 1
        self.send(kind, struct.pack(">I", request_id) + body)
        reply, payload = await self.receive()
        assert struct.unpack(">I", payload[:4])[0] == request_id
        return reply, payload[4:]

    async def status(self, kind: int, body: bytes) -> int:
        reply, payload = await self.request(kind, body)
        assert reply == STATUS, (reply, payload[:40])
        return int(struct.unpack(">I", payload[:4])[0])

    async def handle(self, path: bytes, flags: int) -> bytes:
        reply, payload = await self.request(OPEN, string(path) + struct.pack(">II", flags, 0))
        assert reply == HANDLE, payload
        return payload[4:4 + struct.unpack(">I", payload[:4])[0]]


async def raw_session(server: RunningFerryd) -> tuple[asyncssh.SSHClientConnection, RawSftp]:
    conn = await asyncssh.connect(
        server.host, server.ports["sftp"], username=USER, password=PASSWORD, known_hosts=None,
        client_keys=None, agent_path=None, config=None,
    )
    writer, reader, _stderr = await conn.open_session(subsystem="sftp", encoding=None)
    raw = RawSftp(writer, reader)
    raw.send(INIT, struct.pack(">I", 3))
    kind, _ = await raw.receive()
    assert kind == VERSION
    return conn, raw


def run(coroutine: object) -> object:
    return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT))  # type: ignore[arg-type]


def test_wrong_handles_truncated_packets_and_huge_lengths(server: RunningFerryd) -> None:
    async def scenario() -> dict[str, object]:
        conn, raw = await raw_session(server)
        seen: dict[str, object] = {}
        try:
            seen["no such handle"] = await raw.status(READ, string(b"nope") + struct.pack(
                ">QI", 0, 10))
            reading = await raw.handle(b"five-mib.bin", READ_FLAG)
            writing = await raw.handle(b"fresh.bin", WRITE_FLAGS)
            seen["write to a read handle"] = await raw.status(
                WRITE, string(reading) + struct.pack(">Q", 0) + string(b"data"))
            seen["read from a write handle"] = await raw.status(
                READ, string(writing) + struct.pack(">QI", 0, 10))
            kind, payload = await raw.request(READ, string(reading) + struct.pack(
                ">QI", 0, 0xFFFFFFFF))
            seen["huge read"] = (kind, struct.unpack(">I", payload[:4])[0])
            seen["read past the end"] = await raw.status(
                READ, string(reading) + struct.pack(">QI", 6 << 20, 10))
            seen["truncated"] = await raw.status(STAT, struct.pack(">I", 100) + b"ab")
            seen["unknown type"] = await raw.status(99, b"")
            seen["nul byte"] = await raw.status(STAT, string(b"a\x00b"))
            seen["closes"] = [await raw.status(CLOSE, string(h)) for h in (reading, writing)]
            seen["closed twice"] = await raw.status(CLOSE, string(reading))
        finally:
            conn.close()
            await conn.wait_closed()
        return seen

    seen = run(scenario())
    assert seen == {
        "no such handle": FX_FAILURE,  # FX_INVALID_HANDLE is v6; v3 gets FAILURE
        "write to a read handle": FX_PERMISSION_DENIED,
        "read from a write handle": FX_PERMISSION_DENIED,
        "huge read": (DATA, 4 << 20),  # capped at what limits@openssh.com announces
        "read past the end": FX_EOF,
        "truncated": FX_BAD_MESSAGE,
        "unknown type": FX_OP_UNSUPPORTED,
        "nul byte": FX_FAILURE,  # FX_INVALID_FILENAME is v6
        "closes": [FX_OK, FX_OK],
        "closed twice": FX_FAILURE,
    }
    assert (server.home(USER) / "fresh.bin").read_bytes() == b""


def test_expand_path_home_directory_and_padded_writes(server: RunningFerryd) -> None:
    """ferryd's additions to asyncssh's handler, byte for byte."""
    extended, name_reply = 200, 104

    async def scenario() -> dict[str, object]:
        conn, raw = await raw_session(server)
        seen: dict[str, object] = {}
        try:
            for path in (b"~", b"~/inbox/../x", b"a/b"):
                kind, payload = await raw.request(
                    extended, string(b"expand-path@openssh.com") + string(path))
                count, length = struct.unpack(">II", payload[:8])
                seen[path.decode()] = (kind, count, payload[8:8 + length])
            kind, payload = await raw.request(extended, string(b"home-directory") + string(
                USER.encode()))
            seen["home"] = (kind, payload[8:8 + struct.unpack(">I", payload[4:8])[0]])
            seen["other home"] = await raw.status(extended, string(b"home-directory") + string(
                b"root"))
            writing = await raw.handle(b"padded.bin", WRITE_FLAGS)
            seen["padded write"] = await raw.status(
                WRITE, string(writing) + struct.pack(">Q", 0) + string(b"data") + b"\0" * 12)
            seen["close"] = await raw.status(CLOSE, string(writing))
        finally:
            conn.close()
            await conn.wait_closed()
        return seen

    assert run(scenario()) == {
        "~": (name_reply, 1, b"/"),
        "~/inbox/../x": (name_reply, 1, b"/x"),
        "a/b": (name_reply, 1, b"/a/b"),
        "home": (name_reply, b"/"),
        "other home": 2,  # FX_NO_SUCH_FILE
        "padded write": FX_OK,
        "close": FX_OK,
    }
    assert (server.home(USER) / "padded.bin").read_bytes() == b"data"


def test_a_broken_stream_ends_that_session_only(server: RunningFerryd) -> None:
    async def scenario() -> list[str]:
        conn, raw = await raw_session(server)
        try:
            raw.writer.write(struct.pack(">I", 0x7FFFFFFF) + b"\x05junk")  # absurd length
            assert await asyncio.wait_for(raw.reader.read(), TIMEOUT) == b""  # channel closed
        finally:
            conn.close()
            await conn.wait_closed()
        async with asyncssh.connect(
            server.host, server.ports["sftp"], username=USER, password=PASSWORD,
            known_hosts=None, client_keys=None, agent_path=None, config=None,
        ) as again, again.start_sftp_client() as sftp:
            return list(await sftp.listdir("."))

    assert "five-mib.bin" in run(scenario())  # type: ignore[operator]


def test_not_ssh_at_all_is_disconnected(server: RunningFerryd) -> None:
    with socket.create_connection((server.host, server.ports["sftp"]), timeout=TIMEOUT) as sock:
        assert sock.recv(64).startswith(b"SSH-2.0-ferryd")
        sock.sendall(b"GET / HTTP/1.1\r\n\r\n" * 4)
        received = b""
        while chunk := sock.recv(4096):  # the server closes: recv returns b""
            received += chunk
            assert len(received) < 1 << 16
