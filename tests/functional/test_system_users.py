"""System accounts (local_enable=YES) through PAM, each session's file work running as the user.

The tests create real system users (useradd; removed afterwards) and a PAM service file, so
they need root; elsewhere they skip and say why.
"""

from __future__ import annotations

import asyncio
import ftplib
import io
import os
import re
import subprocess
from pathlib import Path

import asyncssh
import pytest

from tests.functional.client_tools import seed_config
from tests.functional.conftest import StartFerryd
from tests.functional.ferryd_process import (
    ImplicitFTP_TLS,
    ReusingFTP_TLS,
    RunningFerryd,
    insecure_client_context,
    running_ferryd,
)
from tests.functional.ssh_clients import SFTP_CONFIG, make_key
from tests.functional.system_accounts import (
    TIMEOUT,
    Accounts,
    SystemUser,
    config,
    login,
    needs_root,
)

pytestmark = needs_root


def private_file(owner: SystemUser, name: str, content: bytes) -> Path:
    """A file in the owner's home that only the owner may read (mode 0600)."""
    path = owner.home / name
    path.write_bytes(content)
    os.chown(path, owner.uid, owner.gid)
    path.chmod(0o600)
    return path


def upload(client: ftplib.FTP, name: str, data: bytes) -> str:
    return client.storbinary(f"STOR {name}", io.BytesIO(data))


def download(client: ftplib.FTP, name: str) -> bytes:
    chunks: list[bytes] = []
    client.retrbinary(f"RETR {name}", chunks.append)
    return b"".join(chunks)


def test_files_belong_to_the_user_and_follow_local_umask(
    start_ferryd: StartFerryd, accounts: Accounts
) -> None:
    alice = accounts.alice
    with start_ferryd(config(accounts, "local_umask=027"), users={}) as server:
        client = login(server, alice)
        assert client.pwd() == "/"  # jailed (chroot_local_user=YES) in the home
        assert upload(client, "report.csv", b"a,b\n1,2\n").startswith("226")
        client.mkd("outbox")
        assert download(client, "report.csv") == b"a,b\n1,2\n"
        client.quit()
    made = (alice.home / "report.csv").stat()
    folder = (alice.home / "outbox").stat()
    assert (made.st_uid, made.st_gid) == (alice.uid, alice.gid)
    assert (folder.st_uid, folder.st_gid) == (alice.uid, alice.gid)
    assert made.st_mode & 0o777 == 0o640
    assert folder.st_mode & 0o777 == 0o750


def test_wrong_password_locked_account_and_bad_shell_are_refused(
    start_ferryd: StartFerryd, accounts: Accounts
) -> None:
    with start_ferryd(config(accounts), users={}) as server:
        with pytest.raises(ftplib.error_perm, match="530"):
            login(server, accounts.alice, "not-the-password")
        with pytest.raises(ftplib.error_perm, match="530"):
            login(server, accounts.nologin)  # check_shell: /usr/sbin/nologin is not in /etc/shells
        with pytest.raises(ftplib.error_perm, match="530"):
            login(server, SystemUser("root", "x", Path("/root"), 0, 0))
        subprocess.run(["usermod", "--lock", accounts.bob.name], check=True, timeout=TIMEOUT)
        try:
            with pytest.raises(ftplib.error_perm, match="530"):
                login(server, accounts.bob)
        finally:
            subprocess.run(["usermod", "--unlock", accounts.bob.name], check=True,
                           timeout=TIMEOUT)
        login(server, accounts.bob).quit()  # unlocked again: PAM lets bob in


def test_unix_permissions_decide_outside_a_jail(
    start_ferryd: StartFerryd, accounts: Accounts
) -> None:
    alice, bob = accounts.alice, accounts.bob
    secret = private_file(bob, "secret.txt", b"bob only\n")
    shared = bob.home / "shared.txt"
    shared.write_bytes(b"for everyone\n")
    shared.chmod(0o644)
    bob.home.chmod(0o755)
    with start_ferryd(config(accounts, "chroot_local_user=NO"), users={}) as server:
        client = login(server, alice)
        assert client.pwd() == f'{alice.home}'  # not jailed: starts in the real home
        with pytest.raises(ftplib.error_perm, match="550"):
            download(client, str(secret))
        assert download(client, str(shared)) == b"for everyone\n"
        with pytest.raises(ftplib.error_perm, match=r"^55"):
            upload(client, f"{bob.home}/planted.txt", b"x")
        with pytest.raises(ftplib.error_perm, match=r"^55"):
            client.delete(str(shared))
        client.quit()
    assert not (bob.home / "planted.txt").exists()
    assert shared.exists()


def test_the_jail_holds(start_ferryd: StartFerryd, accounts: Accounts) -> None:
    alice = accounts.alice
    (alice.home / "inside.txt").write_bytes(b"in\n")
    with start_ferryd(config(accounts), users={}) as server:
        client = login(server, alice)
        client.cwd("../../..")
        assert client.pwd() == "/"
        assert "inside.txt" in client.nlst()
        with pytest.raises(ftplib.error_perm, match="550"):
            download(client, "/etc/passwd")
        client.quit()


def test_userlist_refuses_before_the_password(
    start_ferryd: StartFerryd, accounts: Accounts, tmp_path: Path
) -> None:
    listed = tmp_path / "user_list"
    listed.write_text(f"{accounts.alice.name}\n")
    with start_ferryd(config(accounts, "userlist_enable=YES", f"userlist_file={listed}"),
                      users={}) as server:
        client = ftplib.FTP()
        client.connect(server.host, server.port, timeout=TIMEOUT)
        with pytest.raises(ftplib.error_perm, match="530 Permission denied"):
            client.sendcmd(f"USER {accounts.alice.name}")
        client.quit()
        login(server, accounts.bob).quit()
    with start_ferryd(config(accounts, "userlist_enable=YES", "userlist_deny=NO",
                             f"userlist_file={listed}"), users={}) as server:
        login(server, accounts.alice).quit()
        with pytest.raises(ftplib.error_perm, match="530"):
            login(server, accounts.bob)


def test_a_writable_jail_needs_allow_writeable_chroot(
    start_ferryd: StartFerryd, accounts: Accounts
) -> None:
    text = config(accounts).replace("allow_writeable_chroot=YES\n", "")
    with start_ferryd(text, users={}) as server:
        with pytest.raises(ftplib.error_perm, match="530"):
            login(server, accounts.alice)  # alice's home is hers to write: vsftpd refuses too
        assert server.wait_for_line(re.compile("allow_writeable_chroot"), TIMEOUT)


def test_sftp_password_and_authorized_keys(
    start_ferryd: StartFerryd, accounts: Accounts, tmp_path: Path
) -> None:
    alice = accounts.alice
    key = make_key(tmp_path)
    ssh_dir = alice.home / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    keys = ssh_dir / "authorized_keys"
    keys.write_text(Path(f"{key}.pub").read_text())
    for path in (ssh_dir, keys):
        os.chown(path, alice.uid, alice.gid)
    keys.chmod(0o600)
    text = config(accounts, "sftp_host_key_file=" + str(_host_key(tmp_path)),
                  base=SFTP_CONFIG)

    async def scenario(server: RunningFerryd) -> None:
        common = {"username": alice.name, "known_hosts": None, "agent_path": None,
                  "config": None}
        async with (
            asyncssh.connect(server.host, server.ports["sftp"], password=alice.password,
                             client_keys=None, **common) as conn,
            conn.start_sftp_client() as sftp,
            sftp.open("by-password.txt", "wb") as handle,
        ):
            await handle.write(b"over sftp\n")
        async with (
            asyncssh.connect(server.host, server.ports["sftp"], client_keys=[str(key)],
                             **common) as conn,
            conn.start_sftp_client() as sftp,
        ):
            assert await sftp.getcwd() == "/"
            async with sftp.open("by-password.txt", "rb") as handle:
                assert await handle.read() == b"over sftp\n"
        with pytest.raises(asyncssh.PermissionDenied):
            await asyncssh.connect(server.host, server.ports["sftp"], password="wrong",
                                   client_keys=None, **common)

    with start_ferryd(text, users={}, want=("ftp", "sftp")) as server:
        asyncio.run(asyncio.wait_for(scenario(server), TIMEOUT))
    made = (alice.home / "by-password.txt").stat()
    assert (made.st_uid, made.st_gid) == (alice.uid, alice.gid)


def _host_key(folder: Path) -> Path:
    from ferryd.sftp.host_keys import generate_host_key

    return Path(generate_host_key(str(folder / "host_ed25519_key"), "ssh-ed25519").path)


def test_guest_enable_maps_virtual_users_onto_a_system_user(
    start_ferryd: StartFerryd, accounts: Accounts
) -> None:
    guest = accounts.bob
    area = accounts.base / "virtual"
    (area / "alice").mkdir(parents=True)
    os.chown(area / "alice", guest.uid, guest.gid)
    area.chmod(0o755)
    guest_config = config(accounts, "guest_enable=YES", f"guest_username={guest.name}",
                          f"local_root={area}/$USER", "user_sub_token=$USER")
    with start_ferryd(guest_config, users={"alice": "wonderland"}) as server:
        client = ftplib.FTP()
        client.connect(server.host, server.port, timeout=TIMEOUT)
        client.login("alice", "wonderland")
        with pytest.raises(ftplib.error_perm, match=r"^550"):  # guests get anonymous rights
            upload(client, "refused.txt", b"x")
        client.quit()
    with start_ferryd(guest_config + "virtual_use_local_privs=YES\n",
                      users={"alice": "wonderland"}) as server:
        client = ftplib.FTP()
        client.connect(server.host, server.port, timeout=TIMEOUT)
        client.login("alice", "wonderland")
        assert upload(client, "kept.txt", b"as the guest\n").startswith("226")
        client.quit()
    made = (area / "alice" / "kept.txt").stat()
    assert (made.st_uid, made.st_gid) == (guest.uid, guest.gid)
    assert made.st_mode & 0o777 == 0o644  # local_umask=022 with virtual_use_local_privs
    assert not (area / "alice" / "refused.txt").exists()


def test_expired_account_missing_home_and_symlinks_to_other_users_files(
    start_ferryd: StartFerryd, accounts: Accounts
) -> None:
    alice, bob = accounts.alice, accounts.bob
    secret = private_file(bob, "diary.txt", b"bob's diary\n")
    link = alice.home / "peek.txt"
    link.unlink(missing_ok=True)
    link.symlink_to(secret)
    with start_ferryd(config(accounts, "chroot_local_user=NO"), users={}) as server:
        client = login(server, alice)
        with pytest.raises(ftplib.error_perm, match=r"^550"):  # the kernel, as alice, says no
            download(client, f"{alice.home}/peek.txt")
        client.quit()
        subprocess.run(["chage", "--expiredate", "1970-01-02", bob.name], check=True,
                       timeout=TIMEOUT)
        try:
            with pytest.raises(ftplib.error_perm, match="530"):  # PAM's account check
                login(server, bob)
        finally:
            subprocess.run(["chage", "--expiredate", "-1", bob.name], check=True,
                           timeout=TIMEOUT)
    moved = alice.home.with_name(alice.home.name + ".away")
    alice.home.rename(moved)
    try:
        with start_ferryd(config(accounts), users={}) as server:
            with pytest.raises(ftplib.error_perm, match="530"):
                login(server, alice)  # no home to jail her in: refused, and logged
            assert server.wait_for_line(re.compile(re.escape(str(alice.home))), TIMEOUT)
    finally:
        moved.rename(alice.home)


@pytest.mark.parametrize("variant", ["pasv-explicit", "pasv-implicit"])
def test_the_seeds_configuration_logs_in_system_users(
    accounts: Accounts, certificate: Path, tmp_path: Path, variant: str
) -> None:
    """The seed's own vsftpd.conf (local_enable=YES, chroot_local_user=YES, no
    pam_service_name: PAM's `ftp` service, here Debian's `other`), a system user over FTPS."""
    alice = accounts.alice
    config = seed_config(variant, certificate, pasv_min=0, pasv_max=0, extra="")
    want = ("ftps-implicit",) if variant.endswith("implicit") else ("ftp",)
    with running_ferryd(tmp_path, config, {}, want=want) as server:
        if variant.endswith("implicit"):
            client: ReusingFTP_TLS = ImplicitFTP_TLS(server.host, server.implicit_port)
        else:
            client = ReusingFTP_TLS(context=insecure_client_context())
            client.connect(server.host, server.port, timeout=TIMEOUT)
        client.login(alice.name, alice.password)
        client.prot_p()
        assert client.pwd() == "/"
        payload = os.urandom(300_000)
        assert client.storbinary(f"STOR seed-{variant}.bin", io.BytesIO(payload)).startswith(
            "226")
        assert download(client, f"seed-{variant}.bin") == payload
        client.quit()
    made = (alice.home / f"seed-{variant}.bin").stat()
    assert (made.st_uid, made.st_gid) == (alice.uid, alice.gid)
