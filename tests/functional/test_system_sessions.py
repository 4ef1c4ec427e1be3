"""session_support (PAM session, utmp/wtmp records) and reverse_lookup_enable (the host in
them and PAM's rhost).

What an administrator sees: `last` (wtmp) lists a login with session_support=YES, with the
client's confirmed host name or, with reverse_lookup_enable=NO, its address, and a logout
when the session ends; nothing with session_support=NO."""

from __future__ import annotations

import asyncio
import ftplib
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.raw_ftp import wait_until
from tests.functional.system_accounts import (
    TIMEOUT,
    Accounts,
    SystemUser,
    authorize_key,
    config,
    key_login,
    login,
    needs_root,
    sftp_config,
)

pytestmark = [
    needs_root,
    pytest.mark.skipif(not os.path.isfile("/var/log/wtmp"), reason="no /var/log/wtmp here"),
]

WTMP = Path("/var/log/wtmp")
# struct utmpx of 64-bit glibc, as written to wtmp: type, pid, line, id, user, host, exit,
# session, time (seconds, microseconds), address, reserved.
RECORD = struct.Struct("<h2xi32s4s32s256shhiii16s20s")
USER_PROCESS, DEAD_PROCESS = 7, 8


@dataclass(frozen=True)
class WtmpRecord:
    kind: int
    pid: int
    line: str
    user: str
    host: str


def wtmp_records(since: int) -> list[WtmpRecord]:
    """The records appended to wtmp after byte offset `since`."""
    data = WTMP.read_bytes()[since:]
    records = []
    for offset in range(0, len(data) - RECORD.size + 1, RECORD.size):
        kind, pid, line, _id, user, host, *_rest = RECORD.unpack_from(data, offset)
        records.append(WtmpRecord(kind, pid, *(field.rstrip(b"\0").decode()
                                               for field in (line, user, host))))
    return records


def sessions_of(user: SystemUser, since: int) -> tuple[list[WtmpRecord], list[WtmpRecord]]:
    """(logins of `user`, logouts on their lines) in wtmp after `since`."""
    records = wtmp_records(since)
    logins = [r for r in records if r.kind == USER_PROCESS and r.user == user.name]
    lines = {r.line for r in logins}
    return logins, [r for r in records if r.kind == DEAD_PROCESS and r.line in lines]


def test_session_support_records_the_login_and_the_logout_in_wtmp(
    start_ferryd: StartFerryd, accounts: Accounts
) -> None:
    alice = accounts.alice
    since = WTMP.stat().st_size
    with start_ferryd(config(accounts, "session_support=YES"), users={}) as server:
        client = login(server, alice)
        logins, _ = sessions_of(alice, since)
        assert [(r.host, r.line.startswith("ferryd:")) for r in logins] == [("localhost", True)]
        client.quit()
        assert wait_until(lambda: len(sessions_of(alice, since)[1]) == 1, TIMEOUT)
    login_record = logins[0]
    assert login_record.line == f"ferryd:{login_record.pid}"  # vsftpd's "vsftpd:<pid>"


def test_without_reverse_lookup_the_address_is_the_host(
    start_ferryd: StartFerryd, accounts: Accounts
) -> None:
    bob = accounts.bob
    since = WTMP.stat().st_size
    with start_ferryd(config(accounts, "session_support=YES", "reverse_lookup_enable=NO"),
                      users={}) as server:
        login(server, bob).quit()
        assert wait_until(lambda: len(sessions_of(bob, since)[1]) == 1, TIMEOUT)
    assert [r.host for r in sessions_of(bob, since)[0]] == ["127.0.0.1"]


def test_without_session_support_nothing_is_recorded(
    start_ferryd: StartFerryd, accounts: Accounts
) -> None:
    alice = accounts.alice
    since = WTMP.stat().st_size
    with start_ferryd(config(accounts), users={}) as server:
        client = login(server, alice)
        assert client.pwd() == "/"
        client.quit()
    assert sessions_of(alice, since) == ([], [])


def test_a_failed_pam_session_refuses_the_login(
    start_ferryd: StartFerryd, accounts: Accounts
) -> None:
    """A PAM service whose session stack refuses: the login fails and the log says why."""
    alice = accounts.alice
    refusing = Path("/etc/pam.d") / f"{accounts.pam_service}-nosession"
    refusing.write_text("@include common-auth\n@include common-account\n"
                        "session required pam_deny.so\n")
    try:
        text = config(accounts, "session_support=YES").replace(
            f"pam_service_name={accounts.pam_service}", f"pam_service_name={refusing.name}")
        since = WTMP.stat().st_size
        with start_ferryd(text, users={}) as server:
            with pytest.raises(ftplib.error_perm, match="530"):
                login(server, alice)
            assert server.wait_for_line(re.compile(r"session_support: PAM session of "
                                                   + alice.name), TIMEOUT)
        assert sessions_of(alice, since) == ([], [])
    finally:
        refusing.unlink()


def test_an_sftp_key_login_is_a_session_too(
    start_ferryd: StartFerryd, accounts: Accounts, tmp_path: Path
) -> None:
    bob = accounts.bob
    key = authorize_key(bob, tmp_path)
    since = WTMP.stat().st_size
    text = sftp_config(accounts, tmp_path, "session_support=YES")
    with start_ferryd(text, users={}, want=("ftp", "sftp")) as server:
        asyncio.run(asyncio.wait_for(key_login(server, bob, key), TIMEOUT))
        assert wait_until(lambda: len(sessions_of(bob, since)[1]) == 1, TIMEOUT)
    assert [r.host for r in sessions_of(bob, since)[0]] == ["localhost"]
