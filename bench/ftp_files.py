"""Many small files over one FTP/FTPS session: PASV + RETR (or STOR) per file, nothing else.

A small asyncio client rather than curl or lftp: curl 7.88 (Debian 12), on a reused control
connection, stalls for exactly one second on some data connections (its multi loop misses the
EPSV/connect event: a client artefact, seen with every server), and lftp adds SIZE and MDTM
round trips per file and its own GnuTLS stalls. This client does the minimum a client must:
one PASV and one RETR/STOR per file, TLS data connections resuming the control session.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

from bench.ftp_sessions import client_tls_context, login, transfer_over_passive
from bench.servers.base import Mode, RunningServer


@dataclass(frozen=True)
class ManyFiles:
    files: int
    bytes: int
    seconds: float  # after login, from the first PASV to the last 226

    @property
    def files_per_second(self) -> float:
        return self.files / max(self.seconds, 1e-9)


async def _many(
    server: RunningServer, mode: Mode, certificate: Path, commands: list[str],
    payload: bytes | None, timeout: float, budget: float,
) -> ManyFiles:
    """Run the commands in order; stop early (and say so by the count) after `budget` s."""
    context = client_tls_context(certificate) if mode.uses_tls else None
    async with asyncio.timeout(timeout):
        control = await login(server, mode, context)
        try:
            await control.command("TYPE I", 200)
            started = time.monotonic()
            moved = done = 0
            for command in commands:
                moved += await transfer_over_passive(control, server, mode, context, command,
                                                     upload=payload)
                done += 1
                if time.monotonic() - started > budget:
                    break
            seconds = time.monotonic() - started
            with contextlib.suppress(Exception):
                await control.command("QUIT")
        finally:
            await control.close()
    return ManyFiles(files=done, bytes=moved, seconds=seconds)


def download_many(
    server: RunningServer, mode: Mode, folder: str, names: list[str], certificate: Path, *,
    timeout: float, budget: float,
) -> ManyFiles:
    commands = [f"RETR {folder}/{name}" for name in names]
    return asyncio.run(_many(server, mode, certificate, commands, None, timeout, budget))


def upload_many(
    server: RunningServer, mode: Mode, folder: str, names: list[str], payload: bytes,
    certificate: Path, *, timeout: float, budget: float,
) -> ManyFiles:
    commands = [f"STOR {folder}/{name}" for name in names]
    return asyncio.run(_many(server, mode, certificate, commands, payload, timeout, budget))
