"""Setting up data connections: passive listeners (PASV/EPSV) and active ones (PORT/EPRT)."""

from __future__ import annotations

import asyncio
import enum
import logging
import socket
from dataclasses import dataclass

from ferryd.ftp.passive_ports import PassivePortPool, PassivePortsBusy, PassiveReservation
from ferryd.ftp.proto.addresses import unmapped

log = logging.getLogger("ferryd.ftp")


class DataChannelError(Exception):
    """The data connection could not be made; the text says why (for a 425 reply)."""


class PassivePortsExhausted(DataChannelError):
    pass


@dataclass(frozen=True)
class DataChannelRules:
    """The data-channel options, as the driver needs them."""

    pasv_enable: bool
    port_enable: bool
    pasv_min_port: int
    pasv_max_port: int
    pasv_promiscuous: bool
    port_promiscuous: bool
    connect_from_port_20: bool
    ftp_data_port: int
    accept_timeout: float
    connect_timeout: float
    data_connection_timeout: float

    def port_range(self) -> tuple[int, int]:
        """vsftpd: [max(1024, min), max or 65535]."""
        low = max(1024, self.pasv_min_port)
        high = self.pasv_max_port or 65535
        return low, max(low, high)


class Mode(enum.Enum):
    NONE = "none"
    PASSIVE = "passive"
    ACTIVE = "active"


class DataChannel:
    """One control connection's pending data connection: at most one at a time."""

    def __init__(
        self, rules: DataChannelRules, ports: PassivePortPool, *, control_peer: str,
        control_local: str, active_source_port_allowed: bool,
    ) -> None:
        self._rules = rules
        self._ports = ports
        self._control_peer = unmapped(control_peer)
        self._control_local = control_local
        self._active_source_port_allowed = active_source_port_allowed
        self._mode = Mode.NONE
        self._reservation: PassiveReservation | None = None
        self._active_target: tuple[str, int] | None = None

    @property
    def mode(self) -> Mode:
        return self._mode

    def reset(self) -> None:
        if self._reservation is not None:
            self._reservation.release()
            self._reservation = None
        self._active_target = None
        self._mode = Mode.NONE

    # -- passive ------------------------------------------------------------------------
    async def open_passive(self) -> int:
        """Claim a passive port (shared with other clients' sessions) on the control
        connection's address; waits up to accept_timeout when this client holds them all."""
        self.reset()
        try:
            self._reservation = await self._ports.reserve(
                self._control_local, self._control_peer, self._rules.accept_timeout
            )
        except PassivePortsBusy as exc:
            raise PassivePortsExhausted(str(exc)) from exc
        self._mode = Mode.PASSIVE
        return self._reservation.port

    # -- active -------------------------------------------------------------------------
    def set_active(self, host: str, port: int) -> str | None:
        """Remember a PORT/EPRT target; returns why it is refused, or None."""
        self.reset()
        if not self._rules.port_promiscuous and unmapped(host) != self._control_peer:
            return "Illegal PORT command: the address must be the client's own."
        if port < 1024 and not self._rules.port_promiscuous:
            return "Illegal PORT command: ports below 1024 are refused."
        self._active_target = (host, port)
        self._mode = Mode.ACTIVE
        return None

    # -- connecting ---------------------------------------------------------------------
    async def connect(self) -> socket.socket:
        """The TCP connection, before any TLS; raises DataChannelError with a reason."""
        try:
            if self._mode is Mode.PASSIVE:
                return await self._accept()
            if self._mode is Mode.ACTIVE:
                return await self._connect_out()
            raise DataChannelError("Use PORT or PASV first.")
        finally:
            self.reset()

    async def _accept(self) -> socket.socket:
        reservation = self._reservation
        assert reservation is not None
        try:
            return await reservation.accept(self._rules.accept_timeout)
        except TimeoutError as exc:
            raise DataChannelError("Failed to establish connection.") from exc

    async def _connect_out(self) -> socket.socket:
        assert self._active_target is not None
        host, port = self._active_target
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            # an IPv4 client on a dual-stack listener: the local address is ::ffff:a.b.c.d
            local = unmapped(self._control_local) if family == socket.AF_INET else (
                self._control_local
            )
            if self._rules.connect_from_port_20 and self._active_source_port_allowed:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((local, self._rules.ftp_data_port))
            else:
                sock.bind((local, 0))
            async with asyncio.timeout(self._rules.connect_timeout or None):
                await asyncio.get_running_loop().sock_connect(sock, (host, port))
        except (OSError, TimeoutError) as exc:
            sock.close()
            log.info("active data connection to %s port %s failed: %r", host, port, exc)
            raise DataChannelError("Failed to establish connection.") from exc
        except BaseException:
            sock.close()  # cancelled (ABOR, disconnect): the loop has let go of it already
            raise
        return sock
