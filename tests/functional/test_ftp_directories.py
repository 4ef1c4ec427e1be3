"""Folders and names: MKD/RMD/CWD/CDUP/PWD and their X-aliases, quoting, odd names."""

from __future__ import annotations

import ftplib
from collections.abc import Iterator

import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import RawFtp, ftp_client, shared_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with shared_server(tmp_path_factory) as running:
        yield running


def test_mkd_cwd_pwd_cdup_rmd(server: RunningFerryd) -> None:
    home = server.home("alice")
    with ftp_client(server) as client:
        assert client.mkd("projects") == "/projects"
        assert client.mkd("projects/2024") == "/projects/2024"
        client.cwd("projects/2024")
        assert client.pwd() == "/projects/2024"
        client.sendcmd("CDUP")
        assert client.pwd() == "/projects"
        client.cwd("/")
        assert client.rmd("projects/2024").startswith("250")
        assert client.rmd("projects").startswith("250")
    assert not (home / "projects").exists()


def test_x_aliases_behave_like_the_originals(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        reply = raw.cmd("XMKD xdir")
        assert (reply.code, reply.text) == (257, '257 "/xdir" created')
        assert raw.cmd("XCWD xdir").code == 250
        assert raw.cmd("XPWD").text == '257 "/xdir" is the current directory'
        assert raw.cmd("XCUP").code == 250
        assert raw.cmd("XRMD xdir").code == 250
    assert not (server.home("alice") / "xdir").exists()


def test_failures_are_550_with_vsftpd_texts(server: RunningFerryd) -> None:
    home = server.home("alice")
    (home / "full").mkdir()
    (home / "full" / "f").write_bytes(b"x")
    (home / "plain.txt").write_bytes(b"x")
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        assert str(raw.cmd("CWD nowhere")) == "550 Failed to change directory."
        assert str(raw.cmd("CWD plain.txt")) == "550 Failed to change directory."
        assert str(raw.cmd("MKD full")) == "550 Create directory operation failed."
        assert str(raw.cmd("MKD no/such/parent")) == "550 Create directory operation failed."
        assert str(raw.cmd("RMD full")) == "550 Remove directory operation failed."
        assert raw.cmd("RMD plain.txt").code == 550
        assert raw.cmd("RMD /").code == 550
        assert raw.cmd("PWD").text == '257 "/" is the current directory'
    assert (home / "full" / "f").exists()


def test_quotes_in_names_are_doubled(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        assert raw.cmd('MKD say "hi"').text == '257 "/say ""hi""" created'
        assert raw.cmd('CWD say "hi"').code == 250
        assert raw.cmd("PWD").text == '257 "/say ""hi""" is the current directory'
    with ftp_client(server) as client:
        client.cwd('say "hi"')
        assert client.pwd() == '/say "hi"'
    assert (server.home("alice") / 'say "hi"').is_dir()


def test_names_with_spaces_and_leading_space(server: RunningFerryd) -> None:
    with ftp_client(server) as client:
        client.mkd("two  spaces")
        client.cwd("two  spaces")
        assert client.pwd() == "/two  spaces"
    assert (server.home("alice") / "two  spaces").is_dir()


def test_cwd_without_argument_goes_home_and_cdup_at_root_stays(server: RunningFerryd) -> None:
    (server.home("alice") / "somewhere").mkdir(exist_ok=True)
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        assert raw.cmd("CWD somewhere").code == 250
        assert raw.cmd("CWD").code == 250
        assert raw.cmd("PWD").text.startswith('257 "/"')
        assert raw.cmd("CDUP").code == 250
        assert raw.cmd("PWD").text.startswith('257 "/"')


def test_mkd_of_existing_name_raises_for_ftplib(server: RunningFerryd) -> None:
    with ftp_client(server) as client:
        client.mkd("once")
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            client.mkd("once")
