"""Reading a PROXY header off a socket takes the header's bytes and not one more."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from ferryd.proxy.header import ClosedBeforeHeader, ProxyHeader, ProxyHeaderError
from ferryd.proxy.socket_reader import read_header, starts_with_header

_T = TypeVar("_T")
HEADER = b"PROXY TCP4 198.51.100.7 192.0.2.1 50000 21\r\n"
CLIENT_HELLO = b"\x16\x03\x01\x00\x05hello"


def with_pair(test: Callable[[socket.socket, socket.socket], Awaitable[_T]]) -> _T:
    server, client = socket.socketpair()
    server.setblocking(False)

    async def run() -> _T:
        return await test(server, client)

    try:
        return asyncio.run(run())
    finally:
        server.close()
        client.close()


def test_bytes_after_the_header_stay_for_the_next_reader() -> None:
    async def test(server: socket.socket, client: socket.socket) -> ProxyHeader:
        client.sendall(HEADER + CLIENT_HELLO)
        header = await read_header(server, 5)
        assert server.recv(100) == CLIENT_HELLO
        return header

    assert with_pair(test).source == ("198.51.100.7", 50000)


def test_a_header_in_pieces() -> None:
    async def test(server: socket.socket, client: socket.socket) -> ProxyHeader:
        async def dribble() -> None:
            for index in range(0, len(HEADER), 7):
                client.sendall(HEADER[index: index + 7])
                await asyncio.sleep(0.01)
            client.sendall(b"USER alice\r\n")

        sender = asyncio.create_task(dribble())
        header = await read_header(server, 5)
        await sender
        assert server.recv(100) == b"USER alice\r\n"
        return header

    assert with_pair(test).destination == ("192.0.2.1", 21)


def test_no_header_in_time() -> None:
    async def test(server: socket.socket, client: socket.socket) -> None:
        client.sendall(b"PROXY TCP4 ")
        await read_header(server, 0.2)

    with pytest.raises(TimeoutError):
        with_pair(test)


def test_garbage_and_early_close() -> None:
    async def garbage(server: socket.socket, client: socket.socket) -> None:
        client.sendall(b"USER alice\r\n")
        await read_header(server, 5)

    async def early_close(server: socket.socket, client: socket.socket) -> None:
        client.sendall(b"PROXY TCP4 1.2")
        client.shutdown(socket.SHUT_WR)
        await read_header(server, 5)

    with pytest.raises(ProxyHeaderError, match="no PROXY protocol header"):
        with_pair(garbage)
    async def health_check(server: socket.socket, client: socket.socket) -> None:
        client.shutdown(socket.SHUT_WR)
        await read_header(server, 5)

    with pytest.raises(ProxyHeaderError, match="closed before a complete"):
        with_pair(early_close)
    with pytest.raises(ClosedBeforeHeader, match="without sending anything"):
        with_pair(health_check)


def test_sniffing_takes_nothing() -> None:
    async def test(server: socket.socket, client: socket.socket) -> tuple[bool, bool]:
        client.sendall(CLIENT_HELLO)
        hello = await starts_with_header(server, 1)
        assert server.recv(100) == CLIENT_HELLO
        client.sendall(HEADER)
        header = await starts_with_header(server, 1)
        return hello, header

    assert with_pair(test) == (False, True)
