"""An asyncio FTP/FTPS client for session counts: bursts of short sessions, idle sessions held.

Data connections over TLS resume the control connection's session (as curl, lftp and FileZilla
do), since ferryd, vsftpd and proftpd refuse a data connection that does not. asyncio's own TLS
transport cannot resume a session, so the data connection runs TLS over memory BIOs.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bench.servers.base import Mode, RunningServer

_PASV = re.compile(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")
_READ = 65536
# Every server sends its banner at accept, before any login work: a connection without one after
# this long was never accepted (a listen backlog overflowed) and will not get one.
_BANNER_TIMEOUT = 60.0
_T = TypeVar("_T")


class FtpReplyError(Exception):
    """The server answered with an unexpected code."""


def client_tls_context(certificate: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certificate))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class FtpControl:
    """One control connection: send a command, read its (possibly multi-line) reply."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def reply(self) -> tuple[int, str]:
        line = (await self.reader.readline()).decode(errors="replace")
        if len(line) < 4 or not line[:3].isdigit():
            raise FtpReplyError(f"bad reply line {line!r}")
        code, text = int(line[:3]), line
        if line[3] == "-":
            end = f"{code} "
            while True:
                more = (await self.reader.readline()).decode(errors="replace")
                if not more:
                    raise FtpReplyError("connection closed inside a multi-line reply")
                text += more
                if more.startswith(end):
                    break
        return code, text

    async def command(self, line: str, *expected: int) -> str:
        self.writer.write(line.encode() + b"\r\n")
        await self.writer.drain()
        code, text = await self.reply()
        if expected and code not in expected:
            shown = "PASS ***" if line.startswith("PASS") else line
            raise FtpReplyError(f"{shown} -> {text.strip()}")
        return text

    @property
    def tls_session(self) -> ssl.SSLSession | None:
        obj = self.writer.get_extra_info("ssl_object")
        return obj.session if isinstance(obj, ssl.SSLObject) else None

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 5)


async def login(
    server: RunningServer, mode: Mode, context: ssl.SSLContext | None,
    stage: list[str] | None = None,
) -> FtpControl:
    """Connect, start TLS as the mode says, log in; PBSZ 0 + PROT P over TLS. `stage`, when
    given, is kept up to date with the step in progress (to tell where a session failed)."""
    stage = stage if stage is not None else [""]
    stage[0] = "connect"
    port = server.port(mode)
    if mode is Mode.FTPS_IMPLICIT:
        reader, writer = await asyncio.open_connection(
            server.host, port, ssl=context, server_hostname=server.host, limit=_READ)
    else:
        reader, writer = await asyncio.open_connection(server.host, port, limit=_READ)
    control = FtpControl(reader, writer)
    try:
        stage[0] = "banner"
        async with asyncio.timeout(_BANNER_TIMEOUT):
            code, text = await control.reply()
        if code != 220:
            raise FtpReplyError(f"banner {text.strip()}")
        if mode is Mode.FTPS_EXPLICIT:
            assert context is not None
            stage[0] = "AUTH TLS"
            await control.command("AUTH TLS", 234)
            await writer.start_tls(context, server_hostname=server.host)
        stage[0] = "login"
        await control.command(f"USER {server.user}", 331)
        await control.command(f"PASS {server.password}", 230)
        if mode.uses_tls:
            stage[0] = "PBSZ/PROT"
            await control.command("PBSZ 0", 200)
            await control.command("PROT P", 200)
    except BaseException:
        await control.close()
        raise
    return control


class BioTlsClient:
    """Client TLS over a plain stream with memory BIOs, resuming a given session."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
        context: ssl.SSLContext, hostname: str, session: ssl.SSLSession | None,
    ) -> None:
        self._reader, self._writer = reader, writer
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=hostname,
                                     session=session)

    async def _flush(self) -> None:
        pending = self._outgoing.read()
        if pending:
            self._writer.write(pending)
            await self._writer.drain()

    async def _fill(self) -> bool:
        data = await self._reader.read(_READ)
        if data:
            self._incoming.write(data)
            return True
        self._incoming.write_eof()
        return False

    async def handshake(self) -> None:
        while True:
            try:
                self._tls.do_handshake()
                await self._flush()
                return
            except ssl.SSLWantReadError:
                pass
            await self._flush()
            if not await self._fill():
                raise ConnectionError("EOF during the data connection's TLS handshake")

    async def write_all(self, data: bytes) -> None:
        self._tls.write(data)  # into the memory BIO: never blocks
        await self._flush()

    async def close_notify(self) -> None:
        """Send close_notify without waiting for the peer's."""
        with contextlib.suppress(ssl.SSLError):
            self._tls.unwrap()
        await self._flush()

    async def read_to_end(self) -> int:
        received = 0
        while True:
            try:
                chunk = self._tls.read(_READ)
            except ssl.SSLWantReadError:
                await self._flush()
                if not await self._fill():
                    return received  # EOF without close_notify: accept, as curl does
                continue
            except ssl.SSLZeroReturnError:
                await self.close_notify()  # answer the server's close_notify, as curl does
                return received
            except ssl.SSLEOFError:
                return received
            if not chunk:
                return received
            received += len(chunk)


async def open_passive(
    control: FtpControl, server: RunningServer
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    text = await control.command("PASV", 227)
    match = _PASV.search(text)
    if match is None:
        raise FtpReplyError(f"PASV reply without an address: {text.strip()}")
    numbers = [int(value) for value in match.groups()]
    return await asyncio.open_connection(server.host, numbers[4] * 256 + numbers[5], limit=_READ)


async def transfer_over_passive(
    control: FtpControl, server: RunningServer, mode: Mode, context: ssl.SSLContext | None,
    command: str, upload: bytes | None = None,
) -> int:
    """PASV, then `command` (LIST, RETR name, STOR name) over a data connection that is TLS
    (resuming the control connection's session) when the mode says so. Returns the bytes
    received, or sent for an upload; the 226 reply has been read."""
    reader, writer = await open_passive(control, server)
    handshake: asyncio.Task[None] | None = None
    tls: BioTlsClient | None = None
    try:
        control.writer.write(command.encode() + b"\r\n")
        await control.writer.drain()
        if mode.uses_tls:
            # Servers differ in whether the 1xx reply comes before or after the data
            # connection's handshake: run both at once.
            assert context is not None
            tls = BioTlsClient(reader, writer, context, server.host, control.tls_session)
            handshake = asyncio.create_task(tls.handshake())
        code, text = await control.reply()
        if code not in (125, 150):
            raise FtpReplyError(f"{command.split()[0]} -> {text.strip()}")
        if handshake is not None:
            await handshake
        if upload is not None:
            moved = len(upload)
            if tls is not None:
                await tls.write_all(upload)
                await tls.close_notify()
            else:
                writer.write(upload)
                await writer.drain()
            # Half-close, then wait for the server to close: closing with unread bytes
            # (TLS tickets) would send a reset that can discard the upload's tail.
            writer.write_eof()
            while await reader.read(_READ):
                pass
        elif tls is not None:
            moved = await tls.read_to_end()
        else:
            moved = 0
            while chunk := await reader.read(_READ):
                moved += len(chunk)
    finally:
        if handshake is not None and not handshake.done():
            handshake.cancel()
            await asyncio.wait([handshake])  # never swallows our own cancellation
        if handshake is not None and not handshake.cancelled():
            handshake.exception()  # retrieved: no "never retrieved" warning
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 5)
    code, text = await control.reply()
    if code != 226:
        raise FtpReplyError(f"{command.split()[0]} end -> {text.strip()}")
    return moved


async def _bounded(awaitable: Awaitable[_T], timeout: float) -> _T:
    async with asyncio.timeout(timeout):
        return await awaitable


def _failure_kind(exc: BaseException) -> str:
    if isinstance(exc, SessionFailed):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, FtpReplyError):
        return f"reply: {str(exc)[:60]}"
    return type(exc).__name__


@dataclass
class BurstResult:
    sessions: int
    succeeded: int
    seconds: float
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def sessions_per_second(self) -> float:
        return self.succeeded / max(self.seconds, 1e-9)


class SessionFailed(Exception):
    """A burst session failed; the text says how and at which step."""


async def _one_short_session(
    server: RunningServer, mode: Mode, context: ssl.SSLContext | None, timeout: float
) -> None:
    stage = [""]
    try:
        async with asyncio.timeout(timeout):
            control = await login(server, mode, context, stage)
            try:
                stage[0] = "PWD"
                await control.command("PWD", 257)
                stage[0] = "LIST"
                await transfer_over_passive(control, server, mode, context, "LIST")
                stage[0] = "QUIT"
                await control.command("QUIT", 221)
            finally:
                await control.close()
    except (OSError, TimeoutError, FtpReplyError, ssl.SSLError) as exc:
        raise SessionFailed(f"{_failure_kind(exc)} at {stage[0]}") from exc


async def burst(
    server: RunningServer, mode: Mode, sessions: int, certificate: Path, *,
    session_timeout: float,
) -> BurstResult:
    """`sessions` simultaneous sessions: connect, log in, PWD, PASV+LIST, QUIT."""
    context = client_tls_context(certificate) if mode.uses_tls else None
    started = time.monotonic()
    outcomes = await asyncio.gather(
        *(_one_short_session(server, mode, context, session_timeout)
          for _ in range(sessions)),
        return_exceptions=True,
    )
    seconds = time.monotonic() - started
    failures: Counter[str] = Counter(
        _failure_kind(outcome) for outcome in outcomes if isinstance(outcome, BaseException)
    )
    return BurstResult(sessions, sessions - sum(failures.values()), seconds, failures)


class IdleSessions:
    """Hold `count` logged-in sessions open (async context manager); failures are counted."""

    def __init__(
        self, server: RunningServer, mode: Mode, count: int, certificate: Path, *,
        concurrency: int, login_timeout: float,
    ) -> None:
        self._server, self._mode, self._count = server, mode, count
        self._context = client_tls_context(certificate) if mode.uses_tls else None
        self._concurrency = concurrency
        self._login_timeout = login_timeout
        self.controls: list[FtpControl] = []
        self.failures: Counter[str] = Counter()

    async def __aenter__(self) -> IdleSessions:
        gate = asyncio.Semaphore(self._concurrency)

        async def open_one() -> None:
            async with gate:
                try:
                    control = await _bounded(
                        login(self._server, self._mode, self._context), self._login_timeout)
                    await _bounded(control.command("PWD", 257), self._login_timeout)
                except Exception as exc:
                    self.failures[_failure_kind(exc)] += 1
                    return
                self.controls.append(control)

        await asyncio.gather(*(open_one() for _ in range(self._count)))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        async def close_one(control: FtpControl) -> None:
            with contextlib.suppress(Exception):
                control.writer.write(b"QUIT\r\n")
                await asyncio.wait_for(control.writer.drain(), 5)
            await control.close()

        await asyncio.gather(*(close_one(control) for control in self.controls))
        self.controls.clear()


async def login_seconds(
    server: RunningServer, mode: Mode, certificate: Path, *, timeout: float
) -> float:
    """Wall time from connect to the 230 reply (and PROT P over TLS) of one session."""
    context = client_tls_context(certificate) if mode.uses_tls else None
    started = time.monotonic()
    control = await _bounded(login(server, mode, context), timeout)
    seconds = time.monotonic() - started
    with contextlib.suppress(Exception):
        await _bounded(control.command("QUIT"), 5)
    await control.close()
    return seconds
