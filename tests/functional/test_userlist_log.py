"""userlist_log (Fedora's vsftpd): a login the userlist refuses is a FAIL LOGIN line with the
reason in the vsftpd log; without it the refusal is only in ferryd's own log, as before."""

from __future__ import annotations

import ftplib
import re
from pathlib import Path

import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.ferryd_process import PLAIN_CONFIG, RunningFerryd
from tests.functional.raw_ftp import wait_until

TIMEOUT = 30.0


def userlist_config(tmp_path: Path, *extra: str) -> tuple[str, Path]:
    listed = tmp_path / "user_list"
    listed.write_text("bob\n")
    log = tmp_path / "vsftpd.log"
    text = PLAIN_CONFIG + "".join(line + "\n" for line in (
        "userlist_enable=YES", f"userlist_file={listed}", "xferlog_enable=YES",
        f"vsftpd_log_file={log}", *extra,
    ))
    return text, log


def refused_at_user(server: RunningFerryd, name: str) -> None:
    with ftplib.FTP() as client:
        client.connect(server.host, server.port, timeout=TIMEOUT)
        with pytest.raises(ftplib.error_perm, match=r"^530 Permission denied"):
            client.sendcmd(f"USER {name}")
        assert client.login("alice", "wonderland").startswith("230")  # a session goes on


def logged(log: Path, line: str) -> bool:
    return wait_until(lambda: log.exists() and line in log.read_text(), TIMEOUT)


def test_a_denied_name_is_logged_with_the_reason(
    start_ferryd: StartFerryd, tmp_path: Path
) -> None:
    text, log = userlist_config(tmp_path, "userlist_log=YES")
    with start_ferryd(text, users={"alice": "wonderland", "bob": "builder"}) as server:
        refused_at_user(server, "bob")
        assert logged(log, '[bob] FAIL LOGIN: Client "127.0.0.1", '
                           '"User is in the deny user list."')
        assert server.wait_for_line(re.compile(r"refused 'bob' from 127\.0\.0\.1"), TIMEOUT)


def test_a_name_missing_from_the_allow_list_is_logged_with_the_reason(
    start_ferryd: StartFerryd, tmp_path: Path
) -> None:
    text, log = userlist_config(tmp_path, "userlist_log=YES", "userlist_deny=NO")
    (tmp_path / "user_list").write_text("alice\n")
    with start_ferryd(text, users={"alice": "wonderland", "carol": "x-secret-1"}) as server:
        refused_at_user(server, "carol")
        assert logged(log, '[carol] FAIL LOGIN: Client "127.0.0.1", '
                           '"User is not in the allow user list."')


def test_without_userlist_log_the_vsftpd_log_stays_quiet(
    start_ferryd: StartFerryd, tmp_path: Path
) -> None:
    text, log = userlist_config(tmp_path)
    with start_ferryd(text, users={"alice": "wonderland", "bob": "builder"}) as server:
        refused_at_user(server, "bob")
        assert logged(log, '[alice] OK LOGIN: Client "127.0.0.1"')  # the log is current
    assert "[bob]" not in log.read_text()
