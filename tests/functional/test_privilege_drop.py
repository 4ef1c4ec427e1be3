"""Started as root, ferryd gives root up: the process that parses what clients send runs as
nopriv_user, while PAM, the sessions' file processes, authorized_keys and chown_uploads are
root helpers' work. With virtual users to serve it stays root and says why."""

from __future__ import annotations

import asyncio
import ftplib
import io
import pwd
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.ferryd_process import PLAIN_CONFIG
from tests.functional.system_accounts import (
    TIMEOUT,
    Accounts,
    authorize_key,
    config,
    key_login,
    login,
    needs_root,
    sftp_config,
)

pytestmark = needs_root

CAP_NET_BIND_SERVICE = 1 << 10


def process_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if ":" in line)


def ids(pid: int, field: str) -> set[int]:
    """The real, effective, saved and file-system ids of a process."""
    return {int(value) for value in process_status(pid)[field].split()}


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(process_status(int(entry.name))["PPid"]) == pid:
                    found.append(int(entry.name))
            except (OSError, KeyError, ValueError):
                continue
    return found


def test_the_network_side_runs_as_nopriv_user_and_system_users_still_work(
    start_ferryd: StartFerryd, accounts: Accounts, tmp_path: Path
) -> None:
    alice, nobody = accounts.alice, pwd.getpwnam("nobody")
    key = authorize_key(alice, tmp_path)
    with start_ferryd(sftp_config(accounts, tmp_path), users={},
                      want=("ftp", "sftp")) as server:
        pid = server.process.pid
        assert server.wait_for_line(re.compile(r"running as nopriv_user=nobody"), TIMEOUT)
        assert ids(pid, "Uid") == {nobody.pw_uid}
        assert ids(pid, "Gid") == {nobody.pw_gid}
        status = process_status(pid)
        assert status["Groups"].split() == []
        assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0
        helpers = children(pid)
        assert len(helpers) == 2 and all(ids(helper, "Uid") == {0} for helper in helpers)

        client = login(server, alice)  # PAM, in the PAM helper
        assert client.storbinary("STOR owned.txt", io.BytesIO(b"mine")).startswith("226")
        client.quit()
        with pytest.raises(ftplib.error_perm, match=r"^530"):
            login(server, alice, "not the password")
        # the key file (0600, alice's) is read by the spawner
        assert "owned.txt" in asyncio.run(key_login(server, alice, key))
    made = (alice.home / "owned.txt").stat()
    assert (made.st_uid, made.st_gid) == (alice.uid, alice.gid)


def test_connect_from_port_20_keeps_only_the_right_to_bind_it(
    start_ferryd: StartFerryd, accounts: Accounts
) -> None:
    alice = accounts.alice
    (alice.home / "file.txt").write_bytes(b"over an active connection")
    text = config(accounts, "port_enable=YES", "connect_from_port_20=YES", "ftp_data_port=20")
    with start_ferryd(text, users={}) as server:
        status = process_status(server.process.pid)
        assert ids(server.process.pid, "Uid") == {pwd.getpwnam("nobody").pw_uid}
        assert int(status["CapEff"], 16) == CAP_NET_BIND_SERVICE
        assert int(status["CapPrm"], 16) == CAP_NET_BIND_SERVICE
        client = login(server, alice)
        with socket.create_server(("127.0.0.1", 0)) as listener:
            port = listener.getsockname()[1]
            assert client.sendcmd(f"PORT 127,0,0,1,{port >> 8},{port & 255}").startswith("200")
            client.putcmd("RETR file.txt")
            assert client.getresp().startswith("150")
            listener.settimeout(TIMEOUT)
            connection, peer = listener.accept()
            with connection:
                assert peer[1] == 20  # vsftpd's connect_from_port_20, as nopriv_user
                received = b"".join(iter(lambda: connection.recv(65536), b""))
            assert client.voidresp().startswith("226")
        client.quit()
    assert received == b"over an active connection"


def test_virtual_users_keep_root_and_the_log_says_why(
    start_ferryd: StartFerryd, accounts: Accounts
) -> None:
    with start_ferryd(config(accounts)) as server:  # alice, a virtual user, besides
        assert server.wait_for_line(re.compile(
            r"notice: ferryd keeps running as root: the user database holds 1 virtual user"),
            TIMEOUT)
        assert ids(server.process.pid, "Uid") == {0}
        client = login(server, accounts.bob)
        assert client.pwd() == "/"
        client.quit()


def test_a_reload_reads_files_as_nopriv_user_and_says_what_it_cannot_read(
    start_ferryd: StartFerryd, accounts: Accounts
) -> None:
    with start_ferryd(config(accounts), users={}) as server:
        assert server.wait_for_line(re.compile(r"running as nopriv_user=nobody"), TIMEOUT)
        server.process.send_signal(signal.SIGHUP)  # the config is in root's 0700 tmp folder
        assert server.wait_for_line(re.compile(
            r"SIGHUP: keeping the running configuration: .*ferryd\.conf.*Permission denied"),
            TIMEOUT), server.read_stderr()
        login(server, accounts.alice).quit()  # still serving


def test_a_missing_nopriv_user_stops_start_up_naming_the_option(tmp_path: Path) -> None:
    conf = tmp_path / "ferryd.conf"
    conf.write_text(PLAIN_CONFIG + f"data_dir={tmp_path}/data\nnopriv_user=no-such-ferryd-user\n")
    result = subprocess.run([sys.executable, "-m", "ferryd.cli", "serve", "--config", str(conf)],
                            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 2
    assert "error: nopriv_user=no-such-ferryd-user: no such system user; create it (useradd " \
           "--system --no-create-home --shell /usr/sbin/nologin no-such-ferryd-user) or name " \
           "another" in result.stderr
