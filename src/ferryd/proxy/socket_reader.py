"""Reading a PROXY header off a raw, non-blocking socket, and not one byte past it.

What follows the header belongs to the client: an implicit-TLS ClientHello, an upload's first
bytes. They must stay in the kernel's buffer for whoever reads the socket next (asyncio's
transport, the TLS handshake), so bytes are peeked first and only the header's are taken.
"""

from __future__ import annotations

import asyncio
import socket

from ferryd.proxy.header import (
    MAX_HEADER_SIZE,
    V1_PREFIX,
    V2_SIGNATURE,
    ClosedBeforeHeader,
    ProxyHeader,
    ProxyHeaderError,
    header_size,
    parse_header,
)


async def _readable(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(sock.fileno(), wake)
    try:
        await ready
    finally:
        loop.remove_reader(sock.fileno())


def _peek(sock: socket.socket, size: int, *, first: bool) -> bytes | None:
    """Up to size bytes without taking them; None when there are none yet (a spurious wake)."""
    try:
        data = sock.recv(size, socket.MSG_PEEK)
    except (BlockingIOError, InterruptedError):
        return None
    if not data:
        if first:
            raise ClosedBeforeHeader("the connection closed without sending anything")
        raise ProxyHeaderError("the connection closed before a complete PROXY header")
    return data


def _take(sock: socket.socket, size: int) -> bytes:
    """Bytes already peeked: they are in the kernel's buffer, so recv returns them at once."""
    chunks: list[bytes] = []
    while size > 0:
        chunk = sock.recv(size)
        if not chunk:
            raise ProxyHeaderError("the connection closed inside the PROXY header")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


async def read_header(sock: socket.socket, timeout: float) -> ProxyHeader:
    """The PROXY header the peer starts with. ProxyHeaderError if it sends something else, a
    malformed header, or closes; TimeoutError if the header is not complete within timeout."""
    taken = b""
    async with asyncio.timeout(timeout):
        while True:
            await _readable(sock)
            peeked = _peek(sock, MAX_HEADER_SIZE - len(taken), first=not taken)
            if peeked is None:
                continue
            size = header_size(taken + peeked)
            if size is None:  # every byte so far is header: take them, wait for the rest
                taken += _take(sock, len(peeked))
                continue
            taken += _take(sock, size - len(taken))
            return parse_header(taken)


async def starts_with_header(sock: socket.socket, timeout: float) -> bool:
    """Whether the peer's first bytes are a PROXY signature, without taking any (for a client
    that speaks first, as implicit TLS does). False when the peer sends nothing in time."""
    signatures = (V1_PREFIX, V2_SIGNATURE)
    try:
        async with asyncio.timeout(timeout):
            while True:
                await _readable(sock)
                try:
                    peeked = sock.recv(len(V2_SIGNATURE), socket.MSG_PEEK)
                except (BlockingIOError, InterruptedError):
                    continue
                if not peeked:
                    return False
                if any(peeked.startswith(signature) for signature in signatures):
                    return True
                if not any(signature.startswith(peeked) for signature in signatures):
                    return False
                if len(peeked) >= len(V2_SIGNATURE):
                    return False
                await asyncio.sleep(0.01)  # a prefix of a signature: wait for more bytes
    except TimeoutError:
        return False
