"""Public keys that are not authorized count as failed logins, the way OpenSSH counts them:
a client offering several keys before the right one logs in as before; a connection that
ends without a login after refused keys is one failed login (ban_enable), and a client
trying key after key is closed past FREE_KEY_OFFERS + max_login_fails keys."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from ferryd.policy.login_attempts import FREE_KEY_OFFERS
from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import wait_until
from tests.functional.ssh_clients import (
    TIMEOUT,
    USER,
    OpenSsh,
    add_key,
    log_text,
    make_key,
    sftp_server,
    sftp_session,
)

MAX_LOGIN_FAILS = 3
BAN = ("ban_enable=YES\nban_max_failures=2\nban_window=600\nban_time=600\n"
       f"max_login_fails={MAX_LOGIN_FAILS}\nban_allowlist=127.0.0.2\n")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningFerryd]:
    with sftp_server(tmp_path, BAN) as running:
        add_key(running, USER, make_key(tmp_path, "id_right").with_suffix(".pub"))
        yield running


def strangers(count: int) -> list[asyncssh.SSHKey]:
    return [asyncssh.generate_private_key("ssh-ed25519") for _ in range(count)]


def run(scenario: Any) -> Any:
    return asyncio.run(asyncio.wait_for(scenario, TIMEOUT))


async def listing(server: RunningFerryd, keys: list[Any], **options: Any) -> list[str]:
    async with sftp_session(server, password=None, client_keys=keys, **options) as sftp:
        return list(await sftp.listdir("."))


def test_keys_offered_before_the_right_one_cost_nothing(
    server: RunningFerryd, tmp_path: Path
) -> None:
    right = tmp_path / "id_right"
    wrong = [make_key(tmp_path, f"id_wrong{n}") for n in range(FREE_KEY_OFFERS)]
    for _attempt in range(3):  # more than ban_max_failures: none of them is a failure
        client = OpenSsh(server, tmp_path, password=None, key=right, offered_first=tuple(wrong))
        result = client.sftp("pwd")
        assert result.returncode == 0, result.stderr
    run(listing(server, [*strangers(FREE_KEY_OFFERS), str(right)]))
    assert "banned" not in server.read_stderr()
    assert "FAIL LOGIN" not in log_text(server, "vsftpd.log")


def test_connections_ending_with_refused_keys_are_failed_logins_and_ban(
    server: RunningFerryd, tmp_path: Path
) -> None:
    for _attempt in range(2):  # ban_max_failures=2
        client = OpenSsh(server, tmp_path, password=None, key=make_key(tmp_path, f"id_{_attempt}"))
        result = client.sftp("pwd")
        assert result.returncode != 0
        assert "Permission denied" in result.stderr
    assert server.wait_for_line(re.compile(r"banned 127\.0\.0\.1 for 600 s"), TIMEOUT)
    assert wait_until(lambda: log_text(server, "vsftpd.log").count(
        f'[{USER}] [sftp] FAIL LOGIN: Client "127.0.0.1", "publickey"') == 2, TIMEOUT)
    with pytest.raises((asyncssh.DisconnectError, OSError)):  # even the right key, now
        run(listing(server, [str(tmp_path / "id_right")]))


def test_a_client_trying_key_after_key_is_closed(server: RunningFerryd) -> None:
    with pytest.raises(asyncssh.DisconnectError, match="Too many failed logins"):
        run(listing(server, strangers(FREE_KEY_OFFERS + MAX_LOGIN_FAILS + 5),
                    local_addr=("127.0.0.2", 0)))  # allowlisted: the ban is not the subject
    rejected = FREE_KEY_OFFERS + MAX_LOGIN_FAILS
    assert server.wait_for_line(re.compile(
        rf"127\.0\.0\.2: closed without logging in as '{USER}' after {rejected} public key"
    ), TIMEOUT)
