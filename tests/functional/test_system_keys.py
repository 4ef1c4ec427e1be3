"""OpenSSH's StrictModes on a system user's ~/.ssh/authorized_keys: the folders above the
file (~/.ssh and ~) must be writable by the user alone, or the keys are refused and the log
names the path and the reason."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import asyncssh
import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.system_accounts import (
    TIMEOUT,
    Accounts,
    authorize_key,
    key_login,
    needs_root,
    sftp_config,
)

pytestmark = needs_root


@pytest.mark.parametrize("folder", ["home", ".ssh"])
def test_a_keys_folder_others_may_write_is_refused_with_the_reason(
    start_ferryd: StartFerryd, accounts: Accounts, tmp_path: Path, folder: str
) -> None:
    """OpenSSH's StrictModes: ~ and ~/.ssh must be writable by the user alone."""
    alice = accounts.alice
    key = authorize_key(alice, tmp_path)
    loose = alice.home if folder == "home" else alice.home / ".ssh"
    mode = loose.stat().st_mode & 0o7777
    text = sftp_config(accounts, tmp_path)
    with start_ferryd(text, users={}, want=("ftp", "sftp")) as server:
        assert ".ssh" in asyncio.run(  # as it is, the key logs in (to the home)
            asyncio.wait_for(key_login(server, alice, key), TIMEOUT))
        loose.chmod(mode | 0o020)
        try:
            with pytest.raises(asyncssh.PermissionDenied):
                asyncio.run(asyncio.wait_for(key_login(server, alice, key), TIMEOUT))
        finally:
            loose.chmod(mode)
        expected = (rf"refused the keys of {alice.name} in {alice.home}/\.ssh/authorized_keys: "
                    rf"folder {re.escape(str(loose))} is writable by its group")
        assert server.wait_for_line(re.compile(expected), TIMEOUT)


def test_a_key_does_not_outlive_an_expired_account(
    start_ferryd: StartFerryd, accounts: Accounts, tmp_path: Path
) -> None:
    """Key logins pass PAM's account checks too (OpenSSH with UsePAM does)."""
    bob = accounts.bob
    key = authorize_key(bob, tmp_path)
    with start_ferryd(sftp_config(accounts, tmp_path), users={},
                      want=("ftp", "sftp")) as server:
        asyncio.run(asyncio.wait_for(key_login(server, bob, key), TIMEOUT))  # works today
        subprocess.run(["chage", "--expiredate", "1970-01-02", bob.name], check=True,
                       timeout=TIMEOUT)
        try:
            with pytest.raises(asyncssh.PermissionDenied):
                asyncio.run(asyncio.wait_for(key_login(server, bob, key), TIMEOUT))
            assert server.wait_for_line(
                re.compile(rf"PAM \({accounts.pam_service}\) refused '{bob.name}'.*pam_acct_mgmt"),
                TIMEOUT), server.read_stderr()
        finally:
            subprocess.run(["chage", "--expiredate", "-1", bob.name], check=True,
                           timeout=TIMEOUT)
