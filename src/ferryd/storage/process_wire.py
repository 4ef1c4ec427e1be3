"""The wire between ferryd and a user's file process: length-prefixed JSON, plus descriptors.

Both directions carry JSON only (never pickle): the file process runs as a system user, so
nothing it sends may make the privileged side run code. Open files travel as descriptors
(SCM_RIGHTS) beside the message that names them.
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import socket
import struct
from typing import Any

from ferryd.storage import errors

_LENGTH = struct.Struct("!I")
MAX_MESSAGE = 64 * 1024 * 1024  # a listing of a very large folder fits; a runaway does not
_MAX_DESCRIPTORS = 4

# The storage errors a file process may report, by name; anything else becomes an I/O error.
_ERRORS: dict[str, type[errors.StorageError]] = {
    kind.__name__: kind
    for kind in (
        errors.PathNotFound, errors.PathExists, errors.NotADirectory, errors.IsADirectory,
        errors.DirectoryNotEmpty, errors.OutsideRoot, errors.AccessDenied, errors.NoSpace,
        errors.FileBusy, errors.StorageIOError,
    )
}


class WireError(Exception):
    """The other side closed the connection or sent something that is not a message."""


def send_message(sock: socket.socket, message: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
    """Send one message; blocking."""
    body = json.dumps(message, separators=(",", ":")).encode()
    data = _LENGTH.pack(len(body)) + body
    ancillary = (
        [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())] if fds else []
    )
    sent = sock.sendmsg([data], ancillary)
    if sent < len(data):
        sock.sendall(data[sent:])


def receive_message(sock: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """Receive one message and the descriptors sent with it; blocking. Raises WireError."""
    fds: list[int] = []
    header, ancillary, _flags, _address = sock.recvmsg(
        _LENGTH.size, socket.CMSG_SPACE(_MAX_DESCRIPTORS * array.array("i").itemsize)
    )
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            numbers = array.array("i")
            numbers.frombytes(payload[: len(payload) - len(payload) % numbers.itemsize])
            fds.extend(numbers)
    try:
        while len(header) < _LENGTH.size:
            header += _receive_exactly(sock, _LENGTH.size - len(header))
        (length,) = _LENGTH.unpack(header)
        if length > MAX_MESSAGE:
            raise WireError(f"message of {length} bytes is too long")
        body = _receive_exactly(sock, length)
        message = json.loads(body)
        if not isinstance(message, dict):
            raise WireError("message is not an object")
    except BaseException:
        for fd in fds:
            _close_quietly(fd)
        raise
    return message, fds


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    while size > 0:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise WireError("connection closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def encode_error(exc: errors.StorageError) -> dict[str, str]:
    return {"kind": type(exc).__name__, "message": str(exc)}


def decode_error(payload: Any) -> errors.StorageError:
    if not isinstance(payload, dict):
        return errors.StorageIOError("the file process sent a malformed error")
    kind = _ERRORS.get(str(payload.get("kind")), errors.StorageIOError)
    return kind(str(payload.get("message", "")))
