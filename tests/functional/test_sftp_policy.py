"""FTP's policy options over SFTP and SCP: write_enable=NO, scp_enable=NO, deny_file,
hide_file, max_login_fails, the banner, idle_session_timeout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.ssh_clients import USER, OpenSsh, curl, sftp_server

POLICY = """\
write_enable=NO
scp_enable=NO
deny_file={*.secret}
hide_file={*.hidden}
max_login_fails=2
sftp_banner=Authorised use only.
idle_session_timeout=3
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with sftp_server(tmp_path_factory.mktemp("sftp"), POLICY) as running:
        home = running.home(USER)
        (home / "report.csv").write_text("a,b\n")
        (home / "x.secret").write_text("secret\n")
        (home / "x.hidden").write_text("hidden\n")
        (home / "folder").mkdir()
        yield running


@pytest.fixture
def client(server: RunningFerryd, tmp_path: Path) -> OpenSsh:
    return OpenSsh(server, tmp_path)


def test_read_only_user_reads_and_is_refused_every_write(
    server: RunningFerryd, client: OpenSsh,
) -> None:
    (client.work / "new.txt").write_text("new\n")
    result = client.sftp(
        "get report.csv", "-put new.txt", "-mkdir made", "-rm report.csv",
        "-rename report.csv moved.csv", "-chmod 600 report.csv", "-rmdir folder",
    )
    assert result.returncode == 0, result.stderr
    assert (client.work / "report.csv").read_text() == "a,b\n"
    assert result.stderr.count("Permission denied") == 6, result.stderr
    home = server.home(USER)
    assert sorted(path.name for path in home.iterdir()) == [
        "folder", "report.csv", "x.hidden", "x.secret"]
    upload = client.scp("new.txt", client.remote("new.txt"))
    assert upload.returncode != 0 and not (home / "new.txt").exists()


def test_scp_disabled_refuses_legacy_scp_but_modern_scp_is_sftp(client: OpenSsh) -> None:
    legacy = client.scp(client.remote("report.csv"), "legacy.csv", legacy=True)
    assert legacy.returncode != 0
    assert "scp is disabled on this server (scp_enable=NO)" in legacy.stderr
    assert not (client.work / "legacy.csv").exists()
    modern = client.scp(client.remote("report.csv"), "modern.csv")
    assert modern.returncode == 0, modern.stderr
    assert (client.work / "modern.csv").read_text() == "a,b\n"


def test_curl_scp_refused_when_scp_is_disabled(server: RunningFerryd, client: OpenSsh) -> None:
    refused = curl(server, "report.csv", "-o", str(client.work / "c.csv"), scheme="scp")
    assert refused.returncode != 0


def test_deny_file_refuses_and_hide_file_hides(client: OpenSsh) -> None:
    result = client.sftp("ls", "-get x.secret", "get x.hidden")
    assert result.returncode == 0, result.stderr
    assert "report.csv" in result.stdout
    assert "x.hidden" not in result.stdout.replace("get x.hidden", "")
    assert "x.secret" not in result.stdout.replace("get x.secret", "")
    assert not (client.work / "x.secret").exists()
    assert (client.work / "x.hidden").read_text() == "hidden\n"


def test_max_login_fails_disconnects_and_the_banner_shows(client: OpenSsh) -> None:
    client.password = "wrong"
    ssh = [
        "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=INFO", "-o", "BatchMode=no",
        "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
        "-o", "NumberOfPasswordPrompts=5", "-p", str(client.port),
        f"{USER}@{client.server.host}", "true",
    ]
    result = client.run(ssh)
    assert result.returncode == 255
    assert "Authorised use only." in result.stderr
    assert "Too many failed logins." in result.stderr, result.stderr


def test_idle_sessions_are_disconnected_with_the_reason(client: OpenSsh) -> None:
    """`ssh -N`: logged in, then nothing; the server ends it and OpenSSH shows why."""
    ssh = [
        "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=INFO", "-o", "BatchMode=no",
        "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
        "-o", "NumberOfPasswordPrompts=1", "-N", "-p", str(client.port),
        f"{USER}@{client.server.host}",
    ]
    result = client.run(ssh)
    assert result.returncode == 255
    assert "Timeout: idle for too long (idle_session_timeout)." in result.stderr, result.stderr
