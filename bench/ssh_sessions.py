"""An asyncssh client for SFTP session counts: bursts of short sessions, idle sessions held.

Every session logs in with the bench client key, the cipher under test, curve25519-sha256 and
the ed25519 host key, so each server does the same handshake work.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

import asyncssh

from bench.ftp_sessions import BurstResult, SessionFailed
from bench.servers.base import Mode, RunningServer
from bench.ssh_keys import HOST_KEY_ALGORITHM, KEX, SshKeys

_SSH_ERRORS = (OSError, TimeoutError, asyncssh.Error, asyncssh.SFTPError)


class SshLogin:
    """How this client reaches one server: the key (loaded once) and the algorithms."""

    def __init__(self, server: RunningServer, keys: SshKeys, cipher: str) -> None:
        self._server = server
        self._key = asyncssh.read_private_key(str(keys.client_key))
        self._cipher = cipher

    async def connect(self) -> asyncssh.SSHClientConnection:
        server = self._server
        return await asyncssh.connect(
            server.host, server.port(Mode.SFTP), username=server.user,
            client_keys=[self._key], known_hosts=None, agent_path=None, config=None,
            password=None, preferred_auth="publickey", encryption_algs=[self._cipher],
            kex_algs=[KEX], server_host_key_algs=[HOST_KEY_ALGORITHM], compression_algs=None,
        )


def _failure_kind(exc: BaseException, stage: str) -> str:
    if isinstance(exc, TimeoutError):
        return f"timeout at {stage}"
    return f"{type(exc).__name__} at {stage}"


async def _one_short_session(login: SshLogin, timeout: float) -> None:
    """connect, log in, open SFTP, realpath(".") (the PWD), list ".", close."""
    stage = "connect"
    try:
        async with asyncio.timeout(timeout):
            conn = await login.connect()
            try:
                stage = "sftp"
                async with conn.start_sftp_client() as sftp:
                    stage = "realpath"
                    await sftp.realpath(".")
                    stage = "listdir"
                    await sftp.listdir(".")
            finally:
                conn.close()
                await conn.wait_closed()
    except _SSH_ERRORS as exc:
        raise SessionFailed(_failure_kind(exc, stage)) from exc


async def burst(
    server: RunningServer, keys: SshKeys, cipher: str, sessions: int, *,
    session_timeout: float,
) -> BurstResult:
    """`sessions` simultaneous SFTP sessions, failures counted by kind."""
    login = SshLogin(server, keys, cipher)
    started = time.monotonic()
    outcomes = await asyncio.gather(
        *(_one_short_session(login, session_timeout) for _ in range(sessions)),
        return_exceptions=True,
    )
    seconds = time.monotonic() - started
    failures: Counter[str] = Counter(
        str(outcome) if isinstance(outcome, SessionFailed) else type(outcome).__name__
        for outcome in outcomes if isinstance(outcome, BaseException)
    )
    return BurstResult(sessions, sessions - sum(failures.values()), seconds, failures)


class IdleSshSessions:
    """Hold `count` logged-in connections, each with an SFTP session open (async context
    manager); failures are counted."""

    def __init__(
        self, server: RunningServer, keys: SshKeys, cipher: str, count: int, *,
        concurrency: int, login_timeout: float,
    ) -> None:
        self._login = SshLogin(server, keys, cipher)
        self._count = count
        self._concurrency = concurrency
        self._login_timeout = login_timeout
        self.controls: list[tuple[asyncssh.SSHClientConnection, asyncssh.SFTPClient]] = []
        self.failures: Counter[str] = Counter()

    async def __aenter__(self) -> IdleSshSessions:
        gate = asyncio.Semaphore(self._concurrency)

        async def open_one() -> None:
            async with gate:
                stage = "connect"
                try:
                    async with asyncio.timeout(self._login_timeout):
                        conn = await self._login.connect()
                        stage = "sftp"
                        sftp = await conn.start_sftp_client()
                        await sftp.realpath(".")
                except _SSH_ERRORS as exc:
                    self.failures[_failure_kind(exc, stage)] += 1
                    return
                self.controls.append((conn, sftp))

        await asyncio.gather(*(open_one() for _ in range(self._count)))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        async def close_one(conn: asyncssh.SSHClientConnection) -> None:
            conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 5)

        await asyncio.gather(*(close_one(conn) for conn, _ in self.controls))
        self.controls.clear()


async def login_seconds(server: RunningServer, keys: SshKeys, cipher: str, *,
                        timeout: float) -> float:
    """Wall time from connect to an open SFTP session."""
    login = SshLogin(server, keys, cipher)
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        conn = await login.connect()
        try:
            async with conn.start_sftp_client() as sftp:
                await sftp.realpath(".")
                seconds = time.monotonic() - started
        finally:
            conn.close()
            await conn.wait_closed()
    return seconds
