"""paramiko's SSH and SFTP client against ferryd: logins, transfers with hashes, resume,
folders, attributes and setstat under the permissions, the jail, Japanese names, a
read-only user refused every write, and a host key paramiko does not expect."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import paramiko
import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import wait_until
from tests.functional.ssh_clients import (
    PASSWORD,
    TIMEOUT,
    USER,
    add_key,
    log_text,
    make_key,
    sftp_server,
    sha256,
)

READER, READER_PASSWORD = "reader", "only-reads"
SIZES = (0, 1, 32_769, 3 * 1024 * 1024 + 5)


def set_permissions(server: RunningFerryd, user: str, *rules: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "ferryd.cli", "user", "perm", user, *rules,
         "--config", str(server.config_path)],
        check=True, capture_output=True, text=True, timeout=TIMEOUT,
        env={**os.environ, "FERRYD_HOME": str(server.data_dir)},
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    users = {USER: PASSWORD, READER: READER_PASSWORD}
    with sftp_server(tmp_path_factory.mktemp("paramiko"), users=users) as running:
        set_permissions(running, READER, "/=list,download")
        (running.home(READER) / "shared.txt").write_text("read me\n")
        (running.home(READER) / "folder").mkdir()
        yield running


@contextlib.contextmanager
def ssh_connection(
    server: RunningFerryd, user: str = USER, password: str | None = PASSWORD,
    key: paramiko.PKey | None = None,
) -> Iterator[paramiko.SSHClient]:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(
            server.host, server.ports["sftp"], username=user, password=password, pkey=key,
            look_for_keys=False, allow_agent=False, timeout=TIMEOUT, banner_timeout=TIMEOUT,
            auth_timeout=TIMEOUT, channel_timeout=TIMEOUT,
        )
        yield client
    finally:
        client.close()


@contextlib.contextmanager
def sftp_client(server: RunningFerryd, user: str = USER, password: str | None = PASSWORD,
                key: paramiko.PKey | None = None) -> Iterator[paramiko.SFTPClient]:
    with ssh_connection(server, user, password, key) as client:
        sftp = client.open_sftp()
        sftp.get_channel().settimeout(TIMEOUT)
        try:
            yield sftp
        finally:
            sftp.close()


def test_password_and_key_logins_and_refusals(server: RunningFerryd, tmp_path: Path) -> None:
    known, unknown = make_key(tmp_path, "known"), make_key(tmp_path, "unknown")
    add_key(server, USER, known.with_suffix(".pub"))
    with sftp_client(server) as sftp:
        assert sftp.normalize(".") == "/"
    with sftp_client(server, password=None,
                     key=paramiko.Ed25519Key.from_private_key_file(str(known))) as sftp:
        sftp.putfo(io.BytesIO(b"by key\n"), "by-key.txt")
    assert (server.home(USER) / "by-key.txt").read_bytes() == b"by key\n"
    assert wait_until(lambda: f'[{USER}] [sftp] OK LOGIN: Client "127.0.0.1", "publickey"'
                      in log_text(server, "vsftpd.log"))
    for password, key in (("not-" + PASSWORD, None),
                          (None, paramiko.Ed25519Key.from_private_key_file(str(unknown)))):
        with pytest.raises(paramiko.AuthenticationException), \
                ssh_connection(server, password=password, key=key):
            pass


def test_uploads_and_downloads_keep_every_byte(server: RunningFerryd, tmp_path: Path) -> None:
    payloads = {size: os.urandom(size) for size in SIZES}
    with sftp_client(server) as sftp:
        for size, payload in payloads.items():
            (tmp_path / f"up-{size}").write_bytes(payload)
            attrs = sftp.put(str(tmp_path / f"up-{size}"), f"p-{size}.bin")
            assert attrs.st_size == size
            sftp.get(f"p-{size}.bin", str(tmp_path / f"down-{size}"), prefetch=True)
    for size, payload in payloads.items():
        assert sha256((server.home(USER) / f"p-{size}.bin").read_bytes()) == sha256(payload)
        assert sha256((tmp_path / f"down-{size}").read_bytes()) == sha256(payload)


def test_resumed_upload_and_download(server: RunningFerryd) -> None:
    payload = os.urandom(1_000_003)
    half = len(payload) // 2
    home = server.home(USER)
    with sftp_client(server) as sftp:
        with sftp.open("resume.bin", "wb") as first:
            first.write(payload[:half])  # the connection "broke" here
        with sftp.open("resume.bin", "r+") as again:  # FXF_WRITE without TRUNC: keeps it
            again.seek(sftp.stat("resume.bin").st_size or 0)
            again.write(payload[half:])
        assert sha256((home / "resume.bin").read_bytes()) == sha256(payload)
        with sftp.open("appended.txt", "w") as start:
            start.write(b"one\n")
        with sftp.open("appended.txt", "a") as append:  # FXF_APPEND
            append.write(b"two\n")
        with sftp.open("resume.bin", "rb") as download:  # a download resumed at an offset
            download.seek(half)
            rest = download.read()
    assert rest == payload[half:]
    assert (home / "appended.txt").read_bytes() == b"one\ntwo\n"


def test_folders_listings_and_renames(server: RunningFerryd) -> None:
    home = server.home(USER)
    with sftp_client(server) as sftp:
        sftp.mkdir("work")
        sftp.chdir("work")
        assert sftp.getcwd() == "/work"
        sftp.putfo(io.BytesIO(b"12345"), "a.txt")
        sftp.putfo(io.BytesIO(b"x"), "b.txt")
        sftp.mkdir("sub")
        listing = {entry.filename: entry for entry in sftp.listdir_attr(".")}
        assert set(listing) == {"a.txt", "b.txt", "sub"}
        assert listing["a.txt"].st_size == 5 and stat.S_ISREG(listing["a.txt"].st_mode or 0)
        assert stat.S_ISDIR(listing["sub"].st_mode or 0)
        assert (listing["a.txt"].longname or "").startswith("-rw-")
        with pytest.raises(OSError):  # v3 rename never replaces
            sftp.rename("a.txt", "b.txt")
        sftp.rename("a.txt", "sub/moved.txt")
        sftp.posix_rename("sub/moved.txt", "b.txt")  # posix-rename@openssh.com replaces
        assert sorted(sftp.listdir(".")) == ["b.txt", "sub"]
        with pytest.raises(OSError):
            sftp.rmdir("/work")  # not empty
        sftp.rmdir("sub")
        sftp.remove("b.txt")
        with pytest.raises(FileNotFoundError):
            sftp.stat("b.txt")
        sftp.chdir("/")
        sftp.rmdir("work")
    assert not (home / "work").exists()


def test_setstat_chmod_and_utime(server: RunningFerryd) -> None:
    target = server.home(USER) / "times.txt"
    with sftp_client(server) as sftp:
        sftp.putfo(io.BytesIO(b"t"), "times.txt")
        sftp.chmod("times.txt", 0o600)
        sftp.utime("times.txt", (1_600_000_000, 1_600_000_000))
        attrs = sftp.stat("times.txt")
        with sftp.open("times.txt", "r+") as handle:
            handle.chmod(0o640)  # fsetstat
            handle_mode = handle.stat().st_mode
        with pytest.raises(PermissionError):
            sftp.chown("times.txt", target.stat().st_uid + 1, target.stat().st_gid)
    assert (attrs.st_mode or 0) & 0o777 == 0o600 and attrs.st_mtime == 1_600_000_000
    assert (handle_mode or 0) & 0o777 == 0o640
    assert target.stat().st_mode & 0o777 == 0o640 and int(target.stat().st_mtime) == 1_600_000_000


def test_chmod_enable_no_refuses_chmod_but_not_times(tmp_path: Path) -> None:
    with sftp_server(tmp_path, "chmod_enable=NO\n") as server, sftp_client(server) as sftp:
        sftp.putfo(io.BytesIO(b"t"), "f.txt")
        with pytest.raises(PermissionError):
            sftp.chmod("f.txt", 0o600)
        sftp.utime("f.txt", (1_500_000_000, 1_500_000_000))
        assert sftp.stat("f.txt").st_mtime == 1_500_000_000
        assert (server.home(USER) / "f.txt").stat().st_mode & 0o777 == 0o644


def test_the_jail_holds(server: RunningFerryd, tmp_path: Path) -> None:
    home = server.home(USER)
    outside = tmp_path / "secret.txt"
    outside.write_text("must not leak\n")
    os.symlink(outside, home / "escape-link")
    try:
        with sftp_client(server) as sftp:
            assert sftp.normalize("../../..") == "/"
            assert sftp.normalize("/a/../../b") == "/b"
            with pytest.raises(FileNotFoundError):
                sftp.stat(f"../../../..{outside}")
            with pytest.raises(PermissionError):
                sftp.open("escape-link").read()
            with pytest.raises(OSError):
                sftp.symlink(str(outside), "made-link")
            assert "secret.txt" not in sftp.listdir("../..")
    finally:
        os.unlink(home / "escape-link")
    assert not (home / "made-link").exists()


def test_japanese_names(server: RunningFerryd) -> None:
    folder, name = "受信箱", "報告書 2024年.csv"
    with sftp_client(server) as sftp:
        sftp.mkdir(folder)
        sftp.putfo(io.BytesIO("日本語\n".encode()), f"{folder}/{name}")
        assert sftp.listdir(folder) == [name]
        back = io.BytesIO()
        sftp.getfo(f"{folder}/{name}", back)
        sftp.rename(f"{folder}/{name}", f"{folder}/済み.csv")
        assert sftp.listdir(folder) == ["済み.csv"]
    assert back.getvalue() == "日本語\n".encode()
    assert (server.home(USER) / folder / "済み.csv").read_text(encoding="utf-8") == "日本語\n"


def test_read_only_user_reads_and_is_refused_every_write(server: RunningFerryd) -> None:
    home = server.home(READER)
    with sftp_client(server, READER, READER_PASSWORD) as sftp:
        back = io.BytesIO()
        sftp.getfo("shared.txt", back)
        assert back.getvalue() == b"read me\n"
        refusals = (
            lambda: sftp.putfo(io.BytesIO(b"x"), "new.txt"),
            lambda: sftp.open("shared.txt", "a"),
            lambda: sftp.open("shared.txt", "r+"),
            lambda: sftp.mkdir("made"),
            lambda: sftp.rmdir("folder"),
            lambda: sftp.remove("shared.txt"),
            lambda: sftp.rename("shared.txt", "moved.txt"),
            lambda: sftp.posix_rename("shared.txt", "moved.txt"),
            lambda: sftp.chmod("shared.txt", 0o600),
            lambda: sftp.utime("shared.txt", (1, 1)),
        )
        for refused in refusals:
            with pytest.raises(PermissionError):
                refused()
    assert sorted(path.name for path in home.iterdir()) == ["folder", "shared.txt"]
    assert (home / "shared.txt").read_text() == "read me\n"


def test_a_host_key_paramiko_does_not_expect_is_refused(server: RunningFerryd) -> None:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    impostor = paramiko.Ed25519Key.from_private_key(io.StringIO(
        asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()))
    client.get_host_keys().add(f"[{server.host}]:{server.ports['sftp']}", "ssh-ed25519",
                               impostor)
    try:
        with pytest.raises(paramiko.BadHostKeyException):
            client.connect(server.host, server.ports["sftp"], username=USER, password=PASSWORD,
                           look_for_keys=False, allow_agent=False, timeout=TIMEOUT)
    finally:
        client.close()
    with sftp_client(server) as sftp:  # and the server goes on
        assert sftp.normalize(".") == "/"
