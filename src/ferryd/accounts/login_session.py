"""session_support=YES: one login's PAM session and utmp/wtmp records, held by a helper
process (login_session_helper.py says why a process) for as long as the session lasts."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import sys
from dataclasses import dataclass

import ferryd

log = logging.getLogger("ferryd.accounts")

HELPER_MODULE = "ferryd.accounts.login_session_helper"
OPEN_SECONDS = 30.0  # PAM session modules may ask a directory service
CLOSE_SECONDS = 10.0


class LoginSessionError(Exception):
    """The session could not be opened; the text says why (PAM's reason)."""


@dataclass(frozen=True)
class LoginSessionRequest:
    service: str  # pam_service_name
    user: str
    rhost: str  # the client's name or address (reverse_lookup_enable)
    tty: str  # PAM_TTY: "ftp" or "ssh", as vsftpd and OpenSSH set it


def _helper_environment() -> dict[str, str]:
    """The helper imports this very ferryd, wherever it was loaded from."""
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(ferryd.__file__)))
    path = os.environ.get("PYTHONPATH")
    return {**os.environ,
            "PYTHONPATH": package_root + (os.pathsep + path if path else "")}


class LoginSession:
    """An open login session; close() ends it (logout record, pam_close_session)."""

    def __init__(self, process: asyncio.subprocess.Process, line: str) -> None:
        self._process = process
        self.line = line

    @classmethod
    async def open(cls, request: LoginSessionRequest) -> LoginSession:
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", HELPER_MODULE,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                env=_helper_environment(), start_new_session=True,
            )
        except OSError as exc:
            raise LoginSessionError(f"cannot start the session helper: {exc}") from exc
        session = cls(process, "")
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(dataclasses.asdict(request)).encode() + b"\n")
            await process.stdin.drain()
            answer = json.loads(
                await asyncio.wait_for(process.stdout.readline(), OPEN_SECONDS) or b"{}"
            )
        except (OSError, ValueError, TimeoutError) as exc:
            await session.close()
            raise LoginSessionError(f"the session helper did not answer: {exc!r}") from exc
        if "line" not in answer:
            await session.close()
            raise LoginSessionError(str(answer.get("error", "the session helper failed")))
        session.line = str(answer["line"])
        for note in answer.get("notes", []):
            log.warning("session of %s: %s", request.user, note)
        return session

    async def close(self) -> None:
        process = self._process
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), CLOSE_SECONDS)
        except TimeoutError:
            log.warning("session helper %d did not end: killed (no logout record)",
                        process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
