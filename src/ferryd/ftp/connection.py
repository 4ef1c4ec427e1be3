"""The asyncio driver of one FTP control connection: read, dispatch, reply, transfer.

The driver runs as a task only while it has work (a greeting, commands, a timeout, the end);
between commands it holds no task: its ControlStream wakes it when the client sends more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from ferryd.ftp.control_stream import ControlStream
from ferryd.ftp.data_channel import DataChannel, DataChannelError
from ferryd.ftp.data_connection import TLS_HANDSHAKE_TIMEOUT, DataConnection, TlsDataRefused
from ferryd.ftp.error_replies import reply_for_error
from ferryd.ftp.handlers import HANDLERS
from ferryd.ftp.idle_deadlines import IdleDeadlines
from ferryd.ftp.proto.core import Command, FtpConnectionCore, Signal
from ferryd.ftp.proto.replies import Reply
from ferryd.ftp.proto.state import Transition
from ferryd.ftp.services import FtpServices
from ferryd.ftp.state import ConnectionState
from ferryd.policy.pending_logins import PendingLogins
from ferryd.proxy.header import looks_like_header
from ferryd.session.file_session import FileSession
from ferryd.storage.errors import StorageError

log = logging.getLogger("ferryd.ftp")

# work a driver task does; True: done for now, the connection waits for the client
DriverStep = Callable[[], Coroutine[Any, Any, bool]]


@dataclass(frozen=True, slots=True)
class ClientEndpoints:
    """Who the control connection is for, and where it arrived."""

    address: str
    """The client: the socket's peer, or the one a trusted PROXY header names (unmapped)."""
    local: str
    """This socket's own local address: passive listeners and active connections use it."""
    front: str
    """The server address the client connected to: `local`, or a balancer's front address
    from the PROXY header. PASV announces it when no pasv_address applies."""
    via: str | None = None
    """The proxy's address when a PROXY header named the client."""


class TlsRequired(Exception):
    """Raised for a data connection that must be, but is not, protected by resumed TLS."""


class FtpConnection:
    """One client. Commands run one at a time; only a transfer runs beside them."""

    # slots: thousands of idle sessions each hold one of these
    __slots__ = ("_data", "_driver", "_idle_deadlines", "_idle_second", "_implicit_tls",
                 "_on_finished", "_pending_logins", "_refuse_proxy_header", "_stream",
                 "_tls_starting", "_transfer", "core", "endpoints", "services", "state",
                 "tls_context")

    def __init__(
        self, services: FtpServices, stream: ControlStream, *, implicit_tls: bool,
        endpoints: ClientEndpoints, refuse_proxy_header: bool = False,
        pending_logins: PendingLogins | None = None,
        on_finished: Callable[[FtpConnection], None] | None = None,
        idle_deadlines: IdleDeadlines | None = None,
    ) -> None:
        self.services = services
        self._pending_logins = pending_logins
        self._tls_starting = False
        self._stream = stream
        stream.driver = self
        self._on_finished = on_finished
        self._driver: asyncio.Task[None] | None = None  # None while idle
        self._idle_deadlines = IdleDeadlines() if idle_deadlines is None else idle_deadlines
        self._idle_second: int | None = None  # while idle: when idle_session_timeout ends it
        self._implicit_tls = implicit_tls
        self.core = FtpConnectionCore(max_line_length=services.listen.max_line_length)
        self.state = ConnectionState()
        self.endpoints = endpoints
        # proxy_protocol_enable and a peer that is not trusted: a PROXY header as its first
        # bytes is refused (closed), not taken as a command
        self._refuse_proxy_header = refuse_proxy_header
        self._data: DataChannel | None = None  # made at the first PASV, PORT or REIN
        self.tls_context: ssl.SSLContext | None = None
        self._transfer: asyncio.Task[None] | None = None

    # -- properties handlers use ----------------------------------------------------------
    @property
    def peer_address(self) -> str:
        return self.endpoints.address

    @property
    def local_address(self) -> str:
        return self.endpoints.local

    @property
    def data(self) -> DataChannel:
        """PASV/PORT state; made when first used (most idle sessions never need one)."""
        if self._data is None:
            services = self.services
            self._data = DataChannel(
                services.data_rules, services.passive_ports, control_peer=self.peer_address,
                control_local=self.local_address,
                active_source_port_allowed=services.active_source_port_allowed,
            )
        return self._data

    @property
    def tls_active(self) -> bool:
        return self.tls_context is not None

    @property
    def protocol_name(self) -> str:
        return "ftps" if self.tls_active else "ftp"

    @property
    def session(self) -> FileSession:
        session = self.state.session
        assert session is not None, "the core lets only logged-in users reach this"
        return session

    @property
    def force_data_tls(self) -> bool:
        """force_local_data_ssl, or force_anon_data_ssl for an anonymous session."""
        if self.state.anonymous:
            return self.services.force_anonymous_data_tls
        return self.services.force_data_tls

    @property
    def transfer_running(self) -> bool:
        return self._transfer is not None and not self._transfer.done()

    # -- the driver: a task while there is work ---------------------------------------------
    def start(self) -> None:
        """The connection is accepted: greet the client."""
        self._drive(self._greet)

    def wake(self) -> None:
        """The client sent bytes (or EOF, or is gone): read and run its commands."""
        self._cancel_idle_deadline()
        self._drive(self._command_loop)

    def stop(self) -> None:
        """Shutdown: end the connection now (a command in progress is cancelled)."""
        self._cancel_idle_deadline()
        if self._driver is not None:
            self._driver.cancel()
            return
        self._stream.stop_waiting()
        self._drive(self._end_now)

    @property
    def driver_task(self) -> asyncio.Task[None] | None:
        """The task doing this connection's work, None while it waits for the client."""
        return self._driver

    def _drive(self, step: DriverStep) -> None:
        self._driver = asyncio.get_running_loop().create_task(self._run(step))

    async def _run(self, step: DriverStep) -> None:
        try:
            if await step():
                return
        except (asyncio.CancelledError, ConnectionError, ssl.SSLError, TimeoutError):
            pass  # shutdown, or the control connection itself failed: end the session
        except Exception:
            log.exception("connection from %s ended with an internal error", self.peer_address)
        try:
            await self._cleanup()
        finally:
            self._driver = None
            if self._on_finished is not None:
                self._on_finished(self)

    async def _greet(self) -> bool:
        self._wait_for_login()
        if self._implicit_tls and not await self._start_tls(implicit=True):
            return False
        self.core.send_reply(Reply(220, self.services.banner))
        await self.flush()
        return await self._command_loop()

    async def _end_now(self) -> bool:
        return False

    async def _command_loop(self) -> bool:
        """Run the commands received; True when they are done and the client is quiet."""
        while True:
            event = self.core.next_event()
            await self.flush()
            if event is Signal.CLOSED:
                return False
            if event is Signal.NEED_DATA:
                data = self._stream.read_nowait()
                if data is None:
                    self._wait_for_client()
                    return True
                if self._refuse_proxy_header:
                    self._refuse_proxy_header = False
                    if looks_like_header(data):
                        log.info("control connection from %s closed: it sent a PROXY header "
                                 "but is not in proxy_protocol_trusted", self.peer_address)
                        return False
                self.core.receive_data(data)
                continue
            if isinstance(event, Command):
                await self._dispatch(event)

    def _wait_for_client(self) -> None:
        """Idle: no task until the client sends more, or idle_session_timeout (not while a
        transfer runs) ends the session."""
        self._driver = None
        idle = self.services.ftp.idle_session_timeout
        if idle and not self.transfer_running:
            self._idle_second = self._idle_deadlines.add(self, idle)
        self._stream.wait_for_bytes()

    def _cancel_idle_deadline(self) -> None:
        if self._idle_second is not None:
            self._idle_deadlines.remove(self, self._idle_second)
            self._idle_second = None

    def idle_too_long(self) -> None:
        """idle_session_timeout has passed with no command: say 421, close."""
        self._idle_second = None
        self._stream.stop_waiting()
        self._drive(self._time_out)

    async def _time_out(self) -> bool:
        self.core.send_reply(Reply(421, "Timeout."))
        await self.flush()
        return False

    def _log_line(self, inbound: bool, line: str) -> None:
        self.services.audit.protocol_line(
            self.state.user_name or "", self.peer_address, inbound, line
        )

    async def _dispatch(self, command: Command) -> None:
        masked = command.name == "PASS"
        shown = "PASS <password>" if masked else f"{command.verb} {command.argument}"
        self._log_line(True, shown.rstrip())
        if self.core.logged_in and not self._command_permitted(command.verb):
            self.core.send_reply(Reply(550, "Permission denied."))
            return
        if self.transfer_running and not command.spec.during_transfer:
            await self.wait_for_transfer()
        handler = HANDLERS[command.name]
        if command.name == "PASS" and self._pending_logins is not None:
            self._pending_logins.remove(self)  # being checked: not waiting any more
        try:
            reply = await handler(self, command)
        except (StorageError, DataChannelError) as error:
            reply = reply_for_error(command.name, error)
        except TlsRequired as error:
            reply = Reply(522, str(error))
        except (ConnectionError, ssl.SSLError, TimeoutError):
            raise  # the control connection itself failed: run() ends the session
        except Exception:
            # A bug, not the client's fault: say so, log the details, keep serving.
            log.exception("%s %s from %s failed", command.verb, "(argument hidden)"
                          if command.name == "PASS" else command.argument, self.peer_address)
            reply = Reply(451, "Internal error; the server log has the details.")
        if reply is not None:
            self.core.send_reply(reply)
        if command.name == "PASS" and not self.core.logged_in:
            self._wait_for_login()
        if command.name == "RNTO":
            self.core.apply(Transition.RENAME_CLEARED)

    # -- max_pending_logins ------------------------------------------------------------
    def _wait_for_login(self) -> None:
        if self._pending_logins is not None:
            self._pending_logins.add(self, asyncio.get_running_loop().time(), self.evict)

    def evict(self) -> None:
        """Too many connections wait to log in and this one has waited longest: close it,
        with a 421 where the connection still speaks plain text."""
        log.info("closing %s: too many connections are waiting to log in", self.peer_address)
        transport = self._stream.transport
        if self.tls_context is None and not self._implicit_tls and not self._tls_starting:
            transport.write(b"421 Too many connections are waiting to log in; try later.\r\n")
            transport.close()
        else:
            transport.abort()

    def _command_permitted(self, verb: str) -> bool:
        """cmds_allowed / cmds_denied, matched against the command as sent (XMKD is not MKD),
        as vsftpd matches them."""
        allowed, denied = self.services.commands_allowed, self.services.commands_denied
        if allowed is not None and verb not in allowed:
            return False
        return verb not in denied

    async def flush(self) -> None:
        data = self.core.data_to_send()
        if not data:
            return
        for line in data.decode("utf-8", "surrogateescape").splitlines():
            self._log_line(False, line)
        self._stream.write(data)
        timeout = self.services.ftp.idle_session_timeout or None
        async with asyncio.timeout(timeout):
            await self._stream.drain()

    async def send(self, reply: Reply) -> None:
        """Send a reply now (a 150 before a transfer, say) rather than after the handler."""
        self.core.send_reply(reply)
        await self.flush()

    # -- TLS on the control connection ----------------------------------------------------
    async def _start_tls(self, *, implicit: bool) -> bool:
        tls = self.services.tls
        assert tls is not None
        context = tls.new_context()
        try:
            async with asyncio.timeout(TLS_HANDSHAKE_TIMEOUT):
                await self._stream.start_tls(context)
        except (ssl.SSLError, ConnectionError, TimeoutError, OSError) as exc:
            log.info("TLS handshake with %s failed: %s", self.peer_address, exc)
            if implicit:
                return False
            raise ConnectionResetError("TLS handshake failed") from exc
        self.tls_context = context
        if self.services.debug_tls:
            tls = self._stream.get_extra_info("ssl_object")
            log.info("TLS control connection from %s: %s %s", self.peer_address,
                     tls.version() if tls else "?", tls.cipher()[0] if tls else "?")
        return True

    async def upgrade_to_tls(self) -> None:
        """After `234`: refuse plaintext pipelined behind AUTH, then hand over to TLS."""
        self.core.apply(Transition.TLS_STARTING)
        self._tls_starting = True
        if self.core.trailing_data or self._stream.has_pending:
            raise ConnectionResetError("plaintext pipelined after AUTH: possible injection")
        await self._start_tls(implicit=False)
        self.core.apply(Transition.TLS_ESTABLISHED)

    # -- data connections -----------------------------------------------------------------
    def check_data_protection(self) -> None:
        if self.force_data_tls and not self.state.protected_data:
            raise TlsRequired("Data connections must be encrypted.")

    async def open_data_connection(
        self, preliminary: Reply, *, upload: bool = False
    ) -> DataConnection:
        """Connect (PASV accept or PORT connect), send the 1xx reply, then TLS when PROT P."""
        self.check_data_protection()
        sock = await self.data.connect()
        connection = DataConnection(
            sock, executor=self.services.transfer_executor,
            stall_timeout=float(self.services.data_rules.data_connection_timeout),
        )
        try:
            await self.send(preliminary)
            if self.state.protected_data:
                assert self.tls_context is not None
                await connection.start_tls(
                    self.tls_context, require_reuse=self.services.require_tls_reuse,
                    strict_read_eof=self.services.strict_tls_read_eof, upload=upload,
                )
                if self.services.debug_tls and connection.tls_object is not None:
                    tls = connection.tls_object
                    log.info("TLS data connection from %s: %s %s, session %s",
                             self.peer_address, tls.version(), (tls.cipher() or ("?",))[0],
                             "resumed" if tls.session_reused else "new")
        except TlsDataRefused as exc:
            raise TlsRequired(str(exc)) from exc
        except BaseException:
            connection.abort()
            raise
        return connection

    # -- the transfer beside the commands ---------------------------------------------------
    def start_transfer(self, work: Coroutine[Any, Any, None]) -> None:
        self._transfer = asyncio.create_task(
            self._guarded(work), name=f"ftp-transfer-{self.peer_address}"
        )

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        """A transfer that fails in an unforeseen way still answers the client."""
        try:
            await work
        except (asyncio.CancelledError, ConnectionError, ssl.SSLError):
            raise
        except Exception:
            log.exception("transfer for %s failed", self.peer_address)
            with contextlib.suppress(Exception):
                await self.send(Reply(451, "Internal error; the server log has the details."))

    @property
    def transfer_task(self) -> asyncio.Task[None] | None:
        """The running transfer, if any (shutdown lets it finish within shutdown_grace)."""
        return self._transfer if self.transfer_running else None

    async def wait_for_transfer(self) -> None:
        task = self._transfer
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._transfer = None

    async def abort_transfer(self) -> bool:
        """Cancel a running transfer (ABOR, disconnect); True if one was running."""
        task = self._transfer
        if task is None or task.done():
            await self.wait_for_transfer()
            return False
        # A transfer started a moment ago (ABOR pipelined behind STOR, or a client gone
        # before the loop turned) may not have run yet; cancelled then, it would never run
        # its own cleanup: the upload's hidden file, its descriptor, its lock and the data
        # socket would leak. One turn of the loop lets it reach its first await.
        await asyncio.sleep(0)
        task.cancel()
        await self.wait_for_transfer()
        return True

    async def _cleanup(self) -> None:
        if self._pending_logins is not None:
            self._pending_logins.remove(self)
        await self.abort_transfer()
        if self._data is not None:
            self._data.reset()
        session, self.state.session = self.state.session, None
        if session is not None:
            with contextlib.suppress(Exception):
                await session.close()
        with contextlib.suppress(Exception):
            self._stream.close()
            async with asyncio.timeout(5):
                await self._stream.wait_closed()
