"""Anonymous FTP (anonymous_enable=YES) with vsftpd's anon_* options, with ftplib and curl.

As root, ferryd runs an anonymous session's file work as ftp_username (here `nobody`, which
Debian always has), jailed in anon_root.
"""

from __future__ import annotations

import asyncio
import ftplib
import io
import os
import pwd
import re
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.ferryd_process import (
    PLAIN_CONFIG,
    ReusingFTP_TLS,
    RunningFerryd,
    insecure_client_context,
)
from tests.functional.ssh_clients import sftp_server
from tests.functional.system_accounts import python_reachable_by_everyone

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="anonymous sessions run as ftp_username: that needs root"
)

TIMEOUT = 30.0


@dataclass(frozen=True)
class AnonymousTree:
    root: Path
    incoming: Path
    nobody: pwd.struct_passwd


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[AnonymousTree]:
    """anon_root (root's, read-only for nobody) with pub/ and an incoming/ nobody may write."""
    nobody = pwd.getpwnam("nobody")
    root = tmp_path / "anon"
    (root / "pub").mkdir(parents=True)
    (root / "pub" / "readme.txt").write_bytes(b"public notes\n")
    (root / "pub" / "readme.txt").chmod(0o644)
    private = root / "pub" / "private.txt"
    private.write_bytes(b"readable by nobody, not by the world\n")
    os.chown(private, nobody.pw_uid, nobody.pw_gid)
    private.chmod(0o600)
    incoming = root / "incoming"
    incoming.mkdir()
    os.chown(incoming, nobody.pw_uid, nobody.pw_gid)
    for folder in (tmp_path, root, root / "pub"):
        folder.chmod(0o755)
    yield AnonymousTree(root, incoming, nobody)


def anonymous_config(tree: AnonymousTree, *extra: str) -> str:
    base = PLAIN_CONFIG.replace("anonymous_enable=NO\n", "anonymous_enable=YES\n")
    return base + f"anon_root={tree.root}\nftp_username=nobody\n" + "".join(
        line + "\n" for line in extra
    )


def anonymous(server: RunningFerryd, password: str = "guest@example.com") -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(server.host, server.port, timeout=TIMEOUT)
    try:
        client.login("anonymous", password)
    except BaseException:
        client.close()
        raise
    return client


def fetch(client: ftplib.FTP, name: str) -> bytes:
    chunks: list[bytes] = []
    client.retrbinary(f"RETR {name}", chunks.append)
    return b"".join(chunks)


def test_download_only_by_default(start_ferryd: StartFerryd, tree: AnonymousTree) -> None:
    with start_ferryd(anonymous_config(tree)) as server:
        client = anonymous(server)
        assert client.pwd() == "/"
        assert sorted(client.nlst()) == ["incoming", "pub"]
        assert fetch(client, "pub/readme.txt") == b"public notes\n"
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            fetch(client, "pub/private.txt")  # anon_world_readable_only=YES (the default)
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            client.storbinary("STOR incoming/new.bin", io.BytesIO(b"x"))
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            client.mkd("incoming/folder")
        client.cwd("..")
        assert client.pwd() == "/"  # jailed in anon_root
        client.quit()
        curl = subprocess.run(
            ["curl", "-sS", "--max-time", "20", f"ftp://{server.host}:{server.port}/pub/readme.txt"],
            capture_output=True, timeout=TIMEOUT,
        )
        assert curl.returncode == 0, curl.stderr
        assert curl.stdout == b"public notes\n"
    assert not (tree.incoming / "new.bin").exists()


def test_uploads_with_anon_upload_enable(start_ferryd: StartFerryd, tree: AnonymousTree) -> None:
    config = anonymous_config(tree, "anon_upload_enable=YES", "anon_mkdir_write_enable=YES",
                              "anon_world_readable_only=NO")
    with start_ferryd(config) as server:
        client = anonymous(server)
        assert client.storbinary("STOR incoming/drop.bin", io.BytesIO(b"dropped")).startswith(
            "226")
        with pytest.raises(ftplib.error_perm, match=r"^55"):  # no overwrite without other_write
            client.storbinary("STOR incoming/drop.bin", io.BytesIO(b"replaced"))
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            client.delete("incoming/drop.bin")
        client.mkd("incoming/batch")
        with pytest.raises(ftplib.error_perm, match=r"^55"):  # the kernel: root's folder
            client.storbinary("STOR pub/planted.bin", io.BytesIO(b"x"))
        assert fetch(client, "pub/private.txt").startswith(b"readable by nobody")
        client.quit()
        curl = subprocess.run(
            ["curl", "-sS", "--max-time", "20", "-T", "-",
             f"ftp://{server.host}:{server.port}/incoming/by-curl.txt"],
            input=b"from curl\n", capture_output=True, timeout=TIMEOUT,
        )
        assert curl.returncode == 0, curl.stderr
    dropped = (tree.incoming / "drop.bin").stat()
    assert (tree.incoming / "drop.bin").read_bytes() == b"dropped"
    assert dropped.st_uid == tree.nobody.pw_uid
    assert dropped.st_mode & 0o777 == 0o600  # anon_umask=077 (the default)
    assert (tree.incoming / "by-curl.txt").read_bytes() == b"from curl\n"
    assert (tree.incoming / "batch").is_dir()
    assert not (tree.root / "pub" / "planted.bin").exists()


def test_password_rules(start_ferryd: StartFerryd, tree: AnonymousTree, tmp_path: Path) -> None:
    banned = tmp_path / "banned"
    banned.write_text("spam@example.com\n")
    with start_ferryd(anonymous_config(tree, "deny_email_enable=YES",
                                       f"banned_email_file={banned}")) as server:
        with pytest.raises(ftplib.error_perm, match="530"):
            anonymous(server, "spam@example.com")
        anonymous(server, "fine@example.com").quit()
    with start_ferryd(anonymous_config(tree, "no_anon_password=YES")) as server:
        client = ftplib.FTP()
        client.connect(server.host, server.port, timeout=TIMEOUT)
        assert client.sendcmd("USER ftp").startswith("230")  # no PASS asked
        assert client.pwd() == "/"
        client.quit()


def test_refusals(start_ferryd: StartFerryd, tree: AnonymousTree, certificate: Path) -> None:
    with (start_ferryd(PLAIN_CONFIG + f"anon_root={tree.root}\n") as server,
          pytest.raises(ftplib.error_perm, match="530")):
        anonymous(server)  # anonymous_enable=NO
    tree.root.chmod(0o777)
    with (start_ferryd(anonymous_config(tree)) as server,
          pytest.raises(ftplib.error_perm, match="530")):
        anonymous(server)  # a jail nobody may write: vsftpd refuses it too
    tree.root.chmod(0o755)
    tls = (f"ssl_enable=YES\nrsa_cert_file={certificate}\nforce_local_logins_ssl=NO\n"
           "force_local_data_ssl=NO\n")
    with start_ferryd(anonymous_config(tree, tls)) as server:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        client = ftplib.FTP_TLS(context=context)
        client.connect(server.host, server.port, timeout=TIMEOUT)
        client.auth()
        with pytest.raises(ftplib.error_perm, match="530 Anonymous sessions may not use"):
            client.sendcmd("USER anonymous")  # allow_anon_ssl=NO (the default)
        client.quit()
        anonymous(server).quit()  # in the clear it works



@pytest.mark.parametrize("network_side", ["root", "nopriv_user"])
def test_chown_uploads_gives_anonymous_uploads_away(
    start_ferryd: StartFerryd, tree: AnonymousTree, network_side: str
) -> None:
    """Also once ferryd has given root up (no virtual users): the spawner gives the file."""
    daemon = pwd.getpwnam("daemon")  # any system user that is not the anonymous one
    config = anonymous_config(tree, "anon_upload_enable=YES", "chown_uploads=YES",
                              "chown_username=daemon", "chown_upload_mode=0640")
    virtual = None if network_side == "root" else {}  # None: the virtual user alice
    with python_reachable_by_everyone(), start_ferryd(config, users=virtual) as server:
        dropped = server.wait_for_line(re.compile("running as nopriv_user=nobody"), 0.5)
        assert bool(dropped) == (network_side == "nopriv_user"), server.read_stderr()
        client = anonymous(server)
        assert client.storbinary("STOR incoming/given.bin", io.BytesIO(b"for daemon")).startswith(
            "226")
        client.quit()
    given = tree.incoming / "given.bin"
    assert given.read_bytes() == b"for daemon"
    assert (given.stat().st_uid, given.stat().st_gid) == (daemon.pw_uid, daemon.pw_gid)
    assert given.stat().st_mode & 0o777 == 0o640


def test_forced_tls_for_anonymous_sessions(
    start_ferryd: StartFerryd, tree: AnonymousTree, certificate: Path
) -> None:
    tls = (f"ssl_enable=YES\nrsa_cert_file={certificate}\nallow_anon_ssl=YES\n"
           "force_anon_logins_ssl=YES\nforce_anon_data_ssl=YES\n")
    with start_ferryd(anonymous_config(tree, tls)) as server:
        plain = ftplib.FTP()
        plain.connect(server.host, server.port, timeout=TIMEOUT)
        with pytest.raises(ftplib.error_perm, match="530 Anonymous sessions must use"):
            plain.sendcmd("USER anonymous")
        plain.quit()
        client = ReusingFTP_TLS(context=insecure_client_context())
        client.connect(server.host, server.port, timeout=TIMEOUT)
        client.login("anonymous", "guest@example.com")  # AUTH TLS first, as ftplib does
        client.prot_p()
        with pytest.raises(ftplib.error_perm, match="534"):  # force_anon_data_ssl
            client.sendcmd("PROT C")
        assert fetch(client, "pub/readme.txt") == b"public notes\n"
        client.quit()


def test_anonymous_names_do_not_log_in_over_sftp(tmp_path: Path, tree: AnonymousTree) -> None:
    extra = f"anonymous_enable=YES\nanon_root={tree.root}\nftp_username=nobody\n"

    async def attempt(port: int) -> None:
        with pytest.raises(asyncssh.PermissionDenied):
            await asyncssh.connect("127.0.0.1", port, username="anonymous",
                                   password="guest@example.com", known_hosts=None,
                                   client_keys=None, agent_path=None, config=None)

    with sftp_server(tmp_path / "server", extra=extra) as server:
        asyncio.run(asyncio.wait_for(attempt(server.ports["sftp"]), TIMEOUT))
        with ftplib.FTP() as client:  # the same name over FTP is anonymous FTP
            client.connect(server.host, server.port, timeout=TIMEOUT)
            client.login("anonymous", "guest@example.com")
            assert "pub" in client.nlst()
