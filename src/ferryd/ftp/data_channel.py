"""Setting up data connections: passive listeners (PASV/EPSV) and active ones (PORT/EPRT)."""

from __future__ import annotations

import asyncio
import enum
import errno
import random
import socket
from dataclasses import dataclass

from ferryd.ftp.proto.addresses import unmapped

PASV_BIND_ATTEMPTS = 20


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
        self, rules: DataChannelRules, *, control_peer: str, control_local: str,
        active_source_port_allowed: bool,
    ) -> None:
        self._rules = rules
        self._control_peer = unmapped(control_peer)
        self._control_local = control_local
        self._active_source_port_allowed = active_source_port_allowed
        self._mode = Mode.NONE
        self._listener: socket.socket | None = None
        self._active_target: tuple[str, int] | None = None

    @property
    def mode(self) -> Mode:
        return self._mode

    def reset(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._active_target = None
        self._mode = Mode.NONE

    # -- passive ------------------------------------------------------------------------
    def open_passive(self) -> int:
        """Listen on a free port of the passive range, on the control connection's address."""
        self.reset()
        low, high = self._rules.port_range()
        family = socket.AF_INET6 if ":" in self._control_local else socket.AF_INET
        candidates = list(range(low, high + 1))
        if len(candidates) > PASV_BIND_ATTEMPTS:
            candidates = random.sample(candidates, PASV_BIND_ATTEMPTS)
        else:
            random.shuffle(candidates)
        for port in candidates:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self._control_local, port))
                sock.listen(1)
            except OSError as exc:
                sock.close()
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue
                raise DataChannelError(f"cannot listen for data: {exc.strerror}") from exc
            sock.setblocking(False)
            self._listener = sock
            self._mode = Mode.PASSIVE
            return port
        raise PassivePortsExhausted(
            f"all passive ports {low}-{high} are busy; try again or widen pasv_min_port/"
            "pasv_max_port"
        )

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
        listener = self._listener
        assert listener is not None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._rules.accept_timeout or None):
                while True:
                    sock, peer = await loop.sock_accept(listener)
                    if self._rules.pasv_promiscuous or unmapped(peer[0]) == self._control_peer:
                        return sock
                    sock.close()  # a stranger on our port: not the client, keep waiting
        except TimeoutError as exc:
            raise DataChannelError("Failed to establish connection.") from exc

    async def _connect_out(self) -> socket.socket:
        assert self._active_target is not None
        host, port = self._active_target
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            if self._rules.connect_from_port_20 and self._active_source_port_allowed:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self._control_local, self._rules.ftp_data_port))
            else:
                sock.bind((self._control_local, 0))
            async with asyncio.timeout(self._rules.connect_timeout or None):
                await asyncio.get_running_loop().sock_connect(sock, (host, port))
        except (OSError, TimeoutError) as exc:
            sock.close()
            raise DataChannelError("Failed to establish connection.") from exc
        return sock
