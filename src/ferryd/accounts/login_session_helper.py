"""The helper process behind one login session (session_support=YES), run as root.

vsftpd and OpenSSH open a PAM session in a process of their own for each login; ferryd's
sessions are tasks of one process, and session modules act on the process that calls them
(pam_systemd moves it into the user's scope, pam_limits sets its limits, pam_loginuid marks
it), so each login gets this small process instead. It reads one JSON request from stdin,
opens the PAM session and writes the utmp/wtmp login record, answers one JSON line, then
waits for stdin to close (ferryd ends the session, or ferryd itself is gone) to write the
logout record and close the PAM session. Its `ut_line` is `ferryd:<its pid>`, as vsftpd
uses `vsftpd:<pid>`.

Run as `python -m ferryd.accounts.login_session_helper`; nothing else should call it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys

from ferryd.accounts.login_records import (
    DEAD_PROCESS,
    USER_PROCESS,
    UTMP_FILE,
    LoginRecordError,
    append_to_wtmp,
    login_record,
    update_utmp,
)
from ferryd.accounts.pam_binding import PamError, PamTransaction


def _answer(fields: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def _record(kind: int, line: str, user: str = "", host: str = "") -> str | None:
    """Write a login or logout record; a note when utmp or wtmp could not take it."""
    record = login_record(kind, line=line, pid=os.getpid(), user=user, host=host)
    try:
        in_utmp = update_utmp(record)
        append_to_wtmp(record)
    except LoginRecordError as exc:
        return f"no wtmp record: {exc}"
    if in_utmp or not os.path.exists(UTMP_FILE):
        return None  # no utmp on this system: nothing to keep up to date
    return f"{UTMP_FILE} did not take the record"


def serve(request: dict[str, str]) -> int:
    line = f"ferryd:{os.getpid()}"
    try:
        pam = PamTransaction(request["service"], request["user"], rhost=request["rhost"],
                             tty=request["tty"])
    except PamError as exc:
        _answer({"error": str(exc)})
        return 1
    try:
        pam.check_account()  # an SSH key login had no PAM check yet: locked, expired ...
        pam.open_session()
    except PamError as exc:
        pam.end()
        _answer({"error": str(exc)})
        return 1
    note = _record(USER_PROCESS, line, request["user"], request["rhost"])
    _answer({"line": line, "notes": [note] if note else []})
    sys.stdin.read()  # until ferryd closes the session (or is gone)
    _record(DEAD_PROCESS, line)
    with contextlib.suppress(PamError):  # the session is over either way: pam_end frees it
        pam.close_session()
    pam.end()
    return 0


def main() -> int:
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # ferryd decides when a session ends
    try:
        request = json.loads(sys.stdin.readline())
        fields = {key: str(request[key]) for key in ("service", "user", "rhost", "tty")}
    except (ValueError, KeyError, TypeError) as exc:
        _answer({"error": f"bad request: {exc}"})
        return 2
    return serve(fields)


if __name__ == "__main__":
    sys.exit(main())
