"""OpenSSH's sftp and scp (legacy and modern) and curl against ferryd's SFTP and SCP."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import wait_until
from tests.functional.ssh_clients import (
    PASSWORD,
    USER,
    OpenSsh,
    add_key,
    curl,
    log_text,
    make_key,
    sftp_server,
    sha256,
)

SIZES = (0, 1, 65_537, 1_048_579, 16 << 20)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with sftp_server(tmp_path_factory.mktemp("sftp")) as running:
        yield running


@pytest.fixture
def client(server: RunningFerryd, tmp_path: Path) -> OpenSsh:
    return OpenSsh(server, tmp_path)


def test_password_login_and_folder_operations(server: RunningFerryd, client: OpenSsh) -> None:
    (client.work / "note.txt").write_bytes(b"hello over sftp\n")
    result = client.sftp(
        "pwd", "mkdir ops", "cd ops", "put note.txt", "rename note.txt renamed.txt",
        "ls -l", "chmod 600 renamed.txt", "get renamed.txt back.txt", "df", "cd ..",
        "mkdir empty", "rmdir empty", "ls",
    )
    assert result.returncode == 0, result.stderr
    assert "Remote working directory: /" in result.stdout
    assert "renamed.txt" in result.stdout and "-rw-r--r--" in result.stdout
    assert (client.work / "back.txt").read_bytes() == b"hello over sftp\n"
    home = server.home(USER)
    assert (home / "ops" / "renamed.txt").stat().st_mode & 0o777 == 0o600
    assert not (home / "empty").exists()
    removed = client.sftp("rm ops/renamed.txt", "rmdir ops")
    assert removed.returncode == 0, removed.stderr
    assert not (home / "ops").exists()


def test_uploads_and_downloads_keep_every_byte(server: RunningFerryd, client: OpenSsh) -> None:
    payloads = {size: os.urandom(size) for size in SIZES}
    for size, payload in payloads.items():
        (client.work / f"up-{size}").write_bytes(payload)
    commands = [f"put up-{size} blob-{size}" for size in SIZES]
    commands += [f"get blob-{size} down-{size}" for size in SIZES]
    result = client.sftp(*commands)
    assert result.returncode == 0, result.stderr
    for size, payload in payloads.items():
        assert sha256((server.home(USER) / f"blob-{size}").read_bytes()) == sha256(payload)
        assert sha256((client.work / f"down-{size}").read_bytes()) == sha256(payload)
    # every transfer is recorded, with the protocol named, in both log formats
    name = f"/blob-{16 << 20}"
    assert wait_until(lambda: log_text(server, "xferlog").count(name) == 2)
    assert f"{16 << 20} {name} b _ i r {USER} sftp 0 * c" in log_text(server, "xferlog")
    vsftpd_log = log_text(server, "vsftpd.log")
    assert f'[{USER}] [sftp] OK UPLOAD: Client "127.0.0.1", "{name}", {16 << 20} bytes' in (
        vsftpd_log)
    assert f'[{USER}] [sftp] OK DOWNLOAD: Client "127.0.0.1", "{name}"' in vsftpd_log


def test_wrong_password_is_refused(server: RunningFerryd, client: OpenSsh) -> None:
    client.password = "not-" + PASSWORD
    result = client.sftp("ls")
    assert result.returncode != 0
    assert "Permission denied" in result.stderr
    assert wait_until(lambda: f'[{USER}] [sftp] FAIL LOGIN: Client "127.0.0.1"' in
                      log_text(server, "vsftpd.log"))


def test_key_login_and_unknown_key_refused(server: RunningFerryd, tmp_path: Path) -> None:
    known, unknown = make_key(tmp_path, "known"), make_key(tmp_path, "unknown")
    add_key(server, USER, known.with_suffix(".pub"))
    (tmp_path / "by-key.txt").write_text("keyed\n")
    by_key = OpenSsh(server, tmp_path, password=None, key=known)
    result = by_key.sftp("put by-key.txt", "ls")
    assert result.returncode == 0, result.stderr
    assert (server.home(USER) / "by-key.txt").read_text() == "keyed\n"
    refused = OpenSsh(server, tmp_path, password=None, key=unknown).sftp("ls")
    assert refused.returncode != 0 and "Permission denied" in refused.stderr


def test_scp_legacy_and_modern_both_ways_recursive_and_preserving(
    server: RunningFerryd, client: OpenSsh,
) -> None:
    tree = client.work / "tree"
    (tree / "inner" / "deeper").mkdir(parents=True)
    (tree / "top.bin").write_bytes(os.urandom(200_001))
    (tree / "inner" / "deeper" / "leaf.txt").write_text("leaf\n")
    old = time.time() - 86_400 * 3
    os.utime(tree / "top.bin", (old, old))
    home = server.home(USER)
    for legacy in (True, False):
        label = "legacy" if legacy else "modern"
        up = client.scp("-r", "-p", "tree", client.remote(f"tree-{label}"), legacy=legacy)
        assert up.returncode == 0, up.stderr
        uploaded = home / f"tree-{label}"
        assert (uploaded / "top.bin").read_bytes() == (tree / "top.bin").read_bytes()
        assert (uploaded / "inner" / "deeper" / "leaf.txt").read_text() == "leaf\n"
        assert abs((uploaded / "top.bin").stat().st_mtime - old) < 2
        down = client.scp("-r", "-p", client.remote(f"tree-{label}"), f"back-{label}",
                          legacy=legacy)
        assert down.returncode == 0, down.stderr
        back = client.work / f"back-{label}"
        assert (back / "top.bin").read_bytes() == (tree / "top.bin").read_bytes()
        assert (back / "inner" / "deeper" / "leaf.txt").read_text() == "leaf\n"
        assert abs((back / "top.bin").stat().st_mtime - old) < 2  # -p both ways
    # legacy scp is recorded as scp, modern scp (SFTP underneath) as sftp
    assert wait_until(lambda: f'[{USER}] [scp] OK UPLOAD: Client "127.0.0.1", '
                      '"/tree-legacy/top.bin", 200001 bytes' in log_text(server, "vsftpd.log"))
    vsftpd_log = log_text(server, "vsftpd.log")
    assert '[scp] OK DOWNLOAD: Client "127.0.0.1", "/tree-legacy/top.bin"' in vsftpd_log
    assert '[sftp] OK UPLOAD: Client "127.0.0.1", "/tree-modern/top.bin"' in vsftpd_log


def test_scp_overwrites_a_longer_file_exactly(server: RunningFerryd, client: OpenSsh) -> None:
    home = server.home(USER)
    (client.work / "short.txt").write_text("short\n")
    for legacy in (True, False):
        (home / "target.txt").write_text("a much longer previous version of the file\n" * 99)
        result = client.scp("short.txt", client.remote("target.txt"), legacy=legacy)
        assert result.returncode == 0, result.stderr
        assert (home / "target.txt").read_text() == "short\n"


def test_scp_single_files_and_wildcards(server: RunningFerryd, client: OpenSsh) -> None:
    home = server.home(USER)
    for name in ("w1.csv", "w2.csv", "w3.txt"):
        (home / name).write_text(name)
    (client.work / "in").mkdir()
    for legacy in (True, False):
        result = client.scp(client.remote("w*.csv"), "in/", legacy=legacy)
        assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(client.work / "in")) == ["w1.csv", "w2.csv"]
    missing = client.scp(client.remote("nothing-here.bin"), "x", legacy=True)
    assert missing.returncode != 0 and not (client.work / "x").exists()


def test_64_mib_and_empty_files_over_sftp_and_legacy_scp(
    server: RunningFerryd, client: OpenSsh,
) -> None:
    big = os.urandom(64 << 20)
    (client.work / "big.bin").write_bytes(big)
    (client.work / "empty.bin").write_bytes(b"")
    result = client.sftp("put big.bin sftp-big.bin", "get sftp-big.bin sftp-back.bin")
    assert result.returncode == 0, result.stderr
    for name in ("big.bin", "empty.bin"):
        up = client.scp(name, client.remote(f"scp-{name}"), legacy=True)
        assert up.returncode == 0, up.stderr
        down = client.scp(client.remote(f"scp-{name}"), f"scp-back-{name}", legacy=True)
        assert down.returncode == 0, down.stderr
    home = server.home(USER)
    digest = sha256(big)
    for path in (home / "sftp-big.bin", client.work / "sftp-back.bin", home / "scp-big.bin",
                 client.work / "scp-back-big.bin"):
        assert sha256(path.read_bytes()) == digest, path
    assert (home / "scp-empty.bin").read_bytes() == b""
    assert (client.work / "scp-back-empty.bin").read_bytes() == b""


def test_scp_wildcards_stay_in_the_jail(server: RunningFerryd, client: OpenSsh,
                                        tmp_path: Path) -> None:
    """asyncssh's SCP server expands a remote pattern as OpenSSH's does (the shell there),
    but through ferryd's SFTP adapter: only names inside the user's folder match."""
    (server.home(USER) / "j1.log").write_text("in the jail\n")
    (client.work / "got").mkdir()
    for pattern in ("../../../../etc/pass*", f"../../../..{tmp_path}/*",
                    "/../*/j1.lo?"):  # no folder in the jail holds a j1.log
        result = client.scp(client.remote(pattern), "got/", legacy=True)
        assert result.returncode != 0, pattern
        assert "No such file" in result.stderr or "No matches" in result.stderr, result.stderr
    assert os.listdir(client.work / "got") == []
    inside = client.scp(client.remote("../j?.log"), "got/", legacy=True)
    assert inside.returncode == 0, inside.stderr
    assert os.listdir(client.work / "got") == ["j1.log"]


def test_curl_sftp_and_scp(server: RunningFerryd, client: OpenSsh) -> None:
    payload = os.urandom(700_001)
    (client.work / "for-curl.bin").write_bytes(payload)
    upload = curl(server, "by-curl.bin", "-T", str(client.work / "for-curl.bin"))
    assert upload.returncode == 0, upload.stderr
    assert (server.home(USER) / "by-curl.bin").read_bytes() == payload
    for scheme in ("sftp", "scp"):
        target = client.work / f"from-{scheme}.bin"
        download = curl(server, "by-curl.bin", "-o", str(target), scheme=scheme)
        assert download.returncode == 0, download.stderr
        assert target.read_bytes() == payload
    listing = curl(server, "")
    assert listing.returncode == 0 and b"by-curl.bin" in listing.stdout
    wrong = curl(server, "by-curl.bin", "-o", os.devnull, password="wrong")
    assert wrong.returncode != 0


def test_the_jail_holds(server: RunningFerryd, client: OpenSsh, tmp_path: Path) -> None:
    home = server.home(USER)
    outside = tmp_path / "outside-secret.txt"
    outside.write_text("must not leak\n")
    os.symlink(outside, home / "escape-file")
    os.symlink(tmp_path, home / "escape-dir")
    try:
        result = client.sftp(
            "cd ../../..", "pwd", f"-get ../../../..{outside} a.txt", "-get escape-file b.txt",
            "-ls escape-dir", "-cd escape-dir", "pwd",
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("Remote working directory: /\n") == 2
        assert not (client.work / "a.txt").exists() and not (client.work / "b.txt").exists()
        assert "must not leak" not in result.stdout
        assert "Permission denied" in result.stderr, result.stderr
        scp = client.scp(client.remote("escape-file"), "c.txt", legacy=True)
        assert scp.returncode != 0 and not (client.work / "c.txt").exists()
    finally:
        os.unlink(home / "escape-file")
        os.unlink(home / "escape-dir")


def test_no_shell_and_no_commands(server: RunningFerryd, client: OpenSsh) -> None:
    result = client.ssh("cat /etc/passwd")
    assert result.returncode == 1
    assert "file transfer only" in result.stderr and "root:" not in result.stdout


def test_japanese_names(server: RunningFerryd, client: OpenSsh) -> None:
    name = "報告書 2024.txt"
    (client.work / name).write_text("日本語\n", encoding="utf-8")
    result = client.sftp(f'put "{name}"', "ls", f'get "{name}" back.txt')
    assert result.returncode == 0, result.stderr
    assert name in result.stdout
    assert (server.home(USER) / name).read_text(encoding="utf-8") == "日本語\n"
    assert (client.work / "back.txt").read_text(encoding="utf-8") == "日本語\n"


def test_rclone_sftp_backend(server: RunningFerryd, tmp_path: Path) -> None:
    """rclone's Go sftp library pads short WRITE packets; ferryd accepts them as OpenSSH does."""
    binary = shutil.which("rclone")
    if binary is None:
        pytest.skip("rclone is not installed")
    environment = {**os.environ, "RCLONE_CONFIG": str(tmp_path / "none.conf"),
                   "RCLONE_CACHE_DIR": str(tmp_path / "cache")}

    def rclone(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([binary, *arguments], capture_output=True, text=True,
                              timeout=60, env=environment, stdin=subprocess.DEVNULL)

    obscured = rclone("obscure", PASSWORD).stdout.strip()
    remote = (f":sftp,host={server.host},port={server.ports['sftp']},user={USER},"
              f"pass={obscured}:")
    source = tmp_path / "source"
    source.mkdir()
    payload = os.urandom(3_000_001)
    (source / "a.bin").write_bytes(payload)
    (source / "日本.txt").write_text("x\n")
    for arguments in (("copy", str(source), f"{remote}rc"),
                      ("check", str(source), f"{remote}rc"),
                      ("copy", f"{remote}rc", str(tmp_path / "back")),
                      ("moveto", f"{remote}rc/a.bin", f"{remote}rc/b.bin")):
        result = rclone(*arguments)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "back" / "a.bin").read_bytes() == payload
    assert sorted(os.listdir(server.home(USER) / "rc")) == ["b.bin", "日本.txt"]
    assert rclone("purge", f"{remote}rc").returncode == 0
    assert not (server.home(USER) / "rc").exists()
