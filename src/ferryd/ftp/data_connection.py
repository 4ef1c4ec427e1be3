"""An established data connection, plain or TLS, driven by a worker thread.

Bulk transfers run as one blocking loop per transfer in a worker thread: OpenSSL reads and
writes the kernel socket directly and file I/O happens in the same thread, with no hop to
the event loop per chunk (bench/ measured this at about twice asyncio's TLS transport, which
copies every byte through memory BIOs). The socket's timeout is the stall timeout
(data_connection_timeout), so a stalled peer ends the loop by itself.

What costs less than a thread hop runs on the event loop, with the socket non-blocking and
waits for readability: sending a small file already in memory, receiving a small upload
that arrives at once (SMALL_TRANSFER).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

from ferryd.storage.protocol import ReadHandle, WriteHandle

_T = TypeVar("_T")

TLS_HANDSHAKE_TIMEOUT = 30.0
# Transfers up to this size move on the event loop, as far as the socket takes or gives the
# bytes without waiting: a worker-thread hop (~0.05-0.2 ms) costs more than a 4 KiB file.
SMALL_TRANSFER = 64 * 1024
# ...as long as they keep coming: an upload that pauses this long is written as it arrives.
SMALL_UPLOAD_PAUSE = 0.02
_TCP_QUICKACK = getattr(socket, "TCP_QUICKACK", 12)  # Linux


class _DescriptorFile:
    """The file object socket.sendfile wants, over a descriptor the storage owns (reads use
    pread, so the descriptor's own offset is never moved)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._position = 0

    def fileno(self) -> int:
        return self._fd

    def seek(self, position: int) -> int:
        self._position = position
        return position

    def read(self, size: int) -> bytes:
        data = os.pread(self._fd, size, self._position)
        self._position += len(data)
        return data


class DataStalled(Exception):
    """No progress for data_connection_timeout seconds."""


class FileSideError(Exception):
    """Reading or writing the local file failed inside a transfer loop (not the network)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class TlsDataRefused(Exception):
    """The TLS handshake failed, or did not resume the control connection's session."""


class DataConnection:
    """One data connection. Methods run their blocking work on the transfer executor; at most
    one such job runs at a time, and abort() makes it end promptly."""

    def __init__(
        self, sock: socket.socket, *, executor: Executor, stall_timeout: float
    ) -> None:
        self._sock: socket.socket = sock
        self._executor = executor
        self._stall_timeout = stall_timeout or None
        self._job: asyncio.Future[object] | None = None
        self._aborted = False
        self.bytes_to_file = 0
        sock.setblocking(True)
        sock.settimeout(self._stall_timeout)
        # the last small segment of a transfer must not wait for the peer's delayed ACK
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def tls_object(self) -> ssl.SSLSocket | None:
        return self._sock if isinstance(self._sock, ssl.SSLSocket) else None

    async def _run(self, work: Callable[[], _T]) -> _T:
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(self._executor, work)
        self._job = job  # type: ignore[assignment]
        try:
            return await asyncio.shield(job)
        except TimeoutError as exc:  # socket.timeout is TimeoutError
            raise DataStalled(f"no progress for {self._stall_timeout} s") from exc
        except asyncio.CancelledError:
            self.abort()
            with contextlib.suppress(BaseException):
                await job  # never leave a thread using a file we are about to close
            raise

    # -- TLS ----------------------------------------------------------------------------
    async def start_tls(
        self, context: ssl.SSLContext, *, require_reuse: bool, strict_read_eof: bool,
        upload: bool,
    ) -> None:
        """Server-side TLS (RFC 4217), resuming the control connection's session if required.

        Uploads get no TLS 1.3 session tickets: clients never read an upload's data
        connection, so unread tickets make their kernel answer the close with a reset,
        and the reset can discard the upload's last bytes (curl, lftp and rclone all lose
        files that way). The context belongs to this control connection alone, and only
        one data connection is open at a time, so setting it per transfer is safe."""
        context.num_tickets = 0 if upload else 2
        tls = context.wrap_socket(
            self._sock, server_side=True, do_handshake_on_connect=False,
            suppress_ragged_eofs=not strict_read_eof,
        )
        self._sock = tls

        def handshake() -> bool:
            # in a worker, not on the event loop: measured both ways (docs/performance.md),
            # the loop's handshake was slower per file on this 2-core machine
            tls.settimeout(TLS_HANDSHAKE_TIMEOUT)
            tls.do_handshake()
            # nothing follows the client's Finished from our side (no tickets on uploads): ACK
            # it now, or the client's first record waits (Nagle) for our delayed ACK, 40 ms
            with contextlib.suppress(OSError):
                tls.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
            tls.settimeout(self._stall_timeout)
            return bool(tls.session_reused)

        try:
            reused = await self._run(handshake)
        except (OSError, DataStalled) as exc:
            self.abort()
            raise TlsDataRefused("TLS handshake on the data connection failed.") from exc
        if require_reuse and not reused:
            self.abort()
            raise TlsDataRefused("SSL connection failed: session reuse required.")

    # -- moving bytes -------------------------------------------------------------------
    async def send(self, data: bytes) -> None:
        await self._run(lambda: self._sock.sendall(data))

    async def receive(self, size: int) -> bytes:
        return await self._run(lambda: self._sock.recv(size))

    async def send_in_memory(self, data: bytes) -> None:
        """Bytes already in memory (a small file read with its open): sent from the event loop
        as far as the socket takes them at once (a fresh connection takes a small file
        whole), the rest by a worker thread. Never waits on the event loop."""
        sock = self._sock
        sock.settimeout(0.0)
        try:
            sent = sock.send(data)
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            sent = 0  # TLS: the worker's sendall retries with the same bytes, as it must
        finally:
            sock.settimeout(self._stall_timeout)
        if sent < len(data):
            await self.send(data[sent:])

    async def receive_small(self, limit: int) -> tuple[bytes, bool]:
        """What the peer sends, received on the event loop (waiting for readability, never
        blocking) while it fits in `limit` bytes and keeps coming: (the bytes, True) when the
        peer ended within the limit, else (the bytes so far, False) for receive_to_file to go
        on from. A pause of SMALL_UPLOAD_PAUSE after some bytes also hands over, so what a
        slow client sends reaches the file as it comes."""
        sock = self._sock
        parts: list[bytes] = []
        received = 0
        sock.settimeout(0.0)
        try:
            while received <= limit:
                try:
                    chunk = sock.recv(limit + 1 - received)
                except (BlockingIOError, ssl.SSLWantReadError):
                    if parts:
                        if not await self._readable(SMALL_UPLOAD_PAUSE):
                            break
                    elif not await self._readable(self._stall_timeout):
                        raise DataStalled(f"no progress for {self._stall_timeout} s") from None
                    continue
                except ssl.SSLWantWriteError:
                    break  # TLS must write first: the worker's blocking loop does that
                if not chunk:
                    return b"".join(parts), True
                parts.append(chunk)
                received += len(chunk)
        finally:
            sock.settimeout(self._stall_timeout)
        return b"".join(parts), False

    async def _readable(self, timeout: float | None) -> bool:
        """Wait until the socket is readable: True, or False once `timeout` has passed."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        fd = self._sock.fileno()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            async with asyncio.timeout(timeout):
                await ready
        except TimeoutError:
            return False
        finally:
            loop.remove_reader(fd)
        return True

    async def send_file(
        self, handle: ReadHandle, offset: int, chunk_size: int, *, use_sendfile: bool = True
    ) -> int:
        """Send from offset to the end of the file; returns the bytes sent. A small file read
        with its open goes from memory; plain connections use sendfile(2) unless use_sendfile
        is off; TLS ones encrypt in the worker thread."""
        in_memory = handle.preloaded(offset, handle.size - offset) if handle.size > offset else None
        if in_memory is not None:
            await self.send_in_memory(in_memory)
            return len(in_memory)
        fd = handle.fileno()
        if fd is None:
            total = 0
            while data := await handle.read(chunk_size):
                await self.send(data)
                total += len(data)
            return total
        end = handle.size
        if end <= offset:
            return 0
        sock = self._sock
        if isinstance(sock, ssl.SSLSocket) or not use_sendfile:

            def pread_and_send() -> int:
                position = offset
                while position < end:
                    try:
                        data = os.pread(fd, min(chunk_size, end - position), position)
                    except OSError as exc:
                        raise FileSideError(exc) from exc
                    if not data:
                        break
                    sock.sendall(data)
                    position += len(data)
                return position - offset

            return await self._run(pread_and_send)

        def send_with_sendfile() -> int:
            # socket.sendfile waits for writability itself (the socket has a timeout, which
            # makes it non-blocking underneath: a bare os.sendfile would fail with EAGAIN)
            return sock.sendfile(_DescriptorFile(fd), offset, end - offset)

        return await self._run(send_with_sendfile)

    async def receive_to_file(
        self, handle: WriteHandle, chunk_size: int, received_before: bytes = b""
    ) -> None:
        """Copy `received_before` (what receive_small got), then everything else the peer
        sends, into handle's descriptor (see fileno()). What reached the file is in
        bytes_to_file, also when this fails part-way."""
        fd = handle.fileno()
        assert fd is not None, "callers check handle.fileno() first"
        sock = self._sock

        def receive_and_write() -> None:
            buffer = bytearray(max(chunk_size, len(received_before)))
            view = memoryview(buffer)
            buffer[:len(received_before)] = received_before
            received = len(received_before) or sock.recv_into(buffer)
            while received:
                chunk = view[:received]
                while chunk:
                    try:
                        written = os.write(fd, chunk)
                    except OSError as exc:
                        raise FileSideError(exc) from exc
                    chunk = chunk[written:]
                    self.bytes_to_file += written  # read by the loop thread: one int store
                received = sock.recv_into(buffer)

        before = self.bytes_to_file
        try:
            await self._run(receive_and_write)
        finally:
            handle.advance(self.bytes_to_file - before)

    # -- ending -------------------------------------------------------------------------
    async def close(self, *, wait_for_peer_shutdown: bool = False) -> None:
        """Finish cleanly: TLS close_notify (waiting for the peer's when asked), then FIN.
        Only the wait for the peer's close_notify can block, so only it goes to a worker
        thread: the FIN, or our close_notify on a non-blocking socket, is sent from here
        (a thread hop, ~0.1 ms, per file was a sixth of a 4 KiB RETR's time)."""
        sock = self._sock
        try:
            if isinstance(sock, ssl.SSLSocket) and wait_for_peer_shutdown:
                # strict_ssl_write_shutdown: the peer must answer
                await self._run(sock.unwrap)
            elif isinstance(sock, ssl.SSLSocket):
                # Send our close_notify and go: a client that has read everything may already
                # have closed (even with a reset); that is not a failed transfer.
                sock.setblocking(False)
                with contextlib.suppress(OSError):  # SSLError and SSLWant* are OSErrors
                    sock.unwrap()
            else:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
        finally:
            sock.close()

    def abort(self) -> None:
        """End at once: a worker blocked in send or recv returns with an error."""
        if self._aborted:
            return
        self._aborted = True
        with contextlib.suppress(OSError):
            # the plain socket's shutdown: SSLSocket.shutdown would drop its TLS state under
            # a worker still using it
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
        job = self._job
        if job is None or job.done():
            self._sock.close()
        else:
            job.add_done_callback(lambda _job: self._sock.close())
