"""SFTP and SCP listeners on asyncssh, sharing the connection limits with FTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Sequence

import asyncssh
from asyncssh.encryption import get_default_encryption_algs
from asyncssh.kex import get_default_kex_algs
from asyncssh.mac import get_default_mac_algs
from asyncssh.public_key import get_default_public_key_algs

from ferryd.policy.limits import ConnectionLimiter
from ferryd.policy.pending_logins import PendingLogins
from ferryd.sftp.channels import ChannelRouter, RoutedSession
from ferryd.sftp.connection import SftpConnection
from ferryd.sftp.file_server import file_server_opener
from ferryd.sftp.services import SftpServices

log = logging.getLogger("ferryd.sftp")

SERVER_VERSION = "ferryd"
CLOSE_WAIT_SECONDS = 5.0
# Refused whatever the client offers: SHA-1 and MD5 anywhere, GSS key exchange (no Kerberos
# here), RSA key exchange, the ssh.com SHA-224 variants, and SHA-1 RSA signatures (ssh-rsa).
_WEAK_MARKERS = ("sha1", "md5", "gss-", "rsa1024", "rsa2048", "sha224")


def _strong(algorithms: Sequence[bytes], *, also_refused: tuple[bytes, ...] = ()) -> list[str]:
    return [
        name.decode("ascii") for name in algorithms
        if name not in also_refused and not any(m in name.decode("ascii") for m in _WEAK_MARKERS)
    ]


def algorithm_options() -> dict[str, list[str]]:
    """asyncssh's defaults without the weak ones (the issue's "too weak: refused")."""
    return {
        "kex_algs": _strong(get_default_kex_algs()),
        "encryption_algs": _strong(get_default_encryption_algs()),
        "mac_algs": _strong(get_default_mac_algs()),
        "signature_algs": _strong(get_default_public_key_algs(), also_refused=(b"ssh-rsa",)),
    }


class SftpServer:
    """Accepts SSH connections; each runs SFTP and SCP sessions for its logged-in user."""

    def __init__(
        self, services: SftpServices, limiter: ConnectionLimiter,
        pending_logins: PendingLogins | None = None,
    ) -> None:
        """`pending_logins`: max_pending_logins' bookkeeping, shared with FTP (0: no limit)."""
        self._services = services
        self._limiter = limiter
        self._pending_logins = PendingLogins(0) if pending_logins is None else pending_logins
        self._acceptors: list[asyncssh.SSHAcceptor] = []
        self._live: set[SftpConnection] = set()
        self._router = ChannelRouter(file_server_opener(services),
                                     scp_enable=services.scp_enable)

    @property
    def connections(self) -> int:
        return len(self._live)

    @property
    def services(self) -> SftpServices:
        return self._services

    def use_services(self, services: SftpServices) -> None:
        """A reloaded configuration (SIGHUP): connections from now on use `services`; open
        ones keep theirs. Listening addresses and host keys stay as started."""
        self._services = services
        self._router = ChannelRouter(file_server_opener(services),
                                     scp_enable=services.scp_enable)

    def _new_connection(self) -> SftpConnection:
        return SftpConnection(self._services, self._limiter, self._live,
                              lambda: RoutedSession(self._router), self._pending_logins)

    async def start(self) -> list[tuple[str, int]]:
        """Listen on every configured address; the (host, port) pairs actually bound."""
        services = self._services
        bound: list[tuple[str, int]] = []
        for host in services.listen_hosts:
            acceptor = await asyncssh.listen(
                host, services.port,
                family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                reuse_address=True, backlog=1024, config=None,
                server_factory=self._new_connection,
                server_host_keys=list(services.host_keys),
                server_version=SERVER_VERSION,
                encoding=None,
                login_timeout=services.login_grace,
                allow_pty=False, agent_forwarding=False, x11_forwarding=False,
                **algorithm_options(),
            )
            self._acceptors.append(acceptor)
            for address in acceptor.get_addresses():
                bound.append((str(address[0]), int(address[1])))
        return bound

    async def stop_accepting(self) -> None:
        for acceptor in self._acceptors:
            acceptor.close()
        for acceptor in self._acceptors:
            with contextlib.suppress(Exception):
                await acceptor.wait_closed()
        self._acceptors.clear()

    async def close(self, grace: float) -> None:
        """Stop accepting; idle connections end now, those with open files may finish them
        for `grace` seconds; then every connection is closed."""
        await self.stop_accepting()
        busy = [conn for conn in self._live if not conn.transfers_done.is_set()]
        for conn in list(self._live):
            if conn.transfers_done.is_set():
                conn.disconnect("The server is shutting down.")
        if busy and grace > 0:
            waits = [asyncio.ensure_future(conn.transfers_done.wait()) for conn in busy]
            try:
                await asyncio.wait(waits, timeout=grace)
            finally:
                for wait in waits:
                    wait.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
        for conn in list(self._live):
            conn.disconnect("The server is shutting down.")
        closing = [asyncio.ensure_future(conn.wait_closed()) for conn in list(self._live)]
        if closing:
            await asyncio.wait(closing, timeout=CLOSE_WAIT_SECONDS)
            for task in closing:
                task.cancel()
            await asyncio.gather(*closing, return_exceptions=True)
