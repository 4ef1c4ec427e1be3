"""What a user may do: write_enable, download_enable, cmds_allowed/cmds_denied, SITE CHMOD,
SITE UMASK and local_umask as the modes of files on disk."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import PLAIN, RawFtp, retrieve, shared_server, store


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    config = PLAIN.replace("local_umask=022", "local_umask=027")
    with shared_server(tmp_path_factory, config) as running:
        yield running


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_local_umask_sets_the_modes_on_disk(server: RunningFerryd) -> None:
    home = server.home("alice")
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        store(raw, "STOR masked.txt", b"m")
        assert raw.cmd("MKD masked-dir").code == 257
    assert _mode(home / "masked.txt") == 0o640  # file_open_mode 0666 & ~027
    assert _mode(home / "masked-dir") == 0o750  # 0777 & ~027


def test_site_umask_changes_it_for_this_session(server: RunningFerryd) -> None:
    home = server.home("alice")
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        assert raw.cmd("SITE UMASK").text.endswith("027")
        assert raw.cmd("SITE UMASK 077").code == 200
        store(raw, "STOR private.txt", b"p")
        assert raw.cmd("MKD private-dir").code == 257
    assert _mode(home / "private.txt") == 0o600
    assert _mode(home / "private-dir") == 0o700


def test_site_chmod(server: RunningFerryd) -> None:
    home = server.home("alice")
    (home / "script.sh").write_bytes(b"#!/bin/sh\n")
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        assert raw.cmd("SITE CHMOD 750 script.sh").text == "200 SITE CHMOD command ok."
        assert _mode(home / "script.sh") == 0o750
        assert raw.cmd("SITE CHMOD 0604 script.sh").code == 200
        assert _mode(home / "script.sh") == 0o604
        assert raw.cmd("SITE CHMOD 644 missing").code == 550
        assert raw.cmd("SITE CHMOD 99 script.sh").code == 501
        assert raw.cmd("SITE HELP").code == 214


def test_write_enable_no_refuses_every_change(start_ferryd: StartFerryd) -> None:
    with start_ferryd(PLAIN.replace("write_enable=YES", "write_enable=NO")) as running:
        home = running.home("alice")
        (home / "keep.txt").write_bytes(b"original")
        (home / "folder").mkdir()
        with RawFtp(running.host, running.port) as raw:
            raw.login()
            for command in ("STOR new.txt", "STOR keep.txt", "APPE keep.txt", "STOU"):
                first, _last = store(raw, command, b"changed")
                assert first.code == 550, (command, first)
            for command in ("DELE keep.txt", "MKD newdir", "RMD folder", "RNFR keep.txt",
                            "SITE CHMOD 777 keep.txt", "MFMT 20200101000000 keep.txt"):
                assert raw.cmd(command).code == 550, command
            _first, content, last = retrieve(raw, "RETR keep.txt")  # reading still works
            assert (content, last.code) == (b"original", 226)
        assert sorted(path.name for path in home.iterdir()) == ["folder", "keep.txt"]
        assert (home / "keep.txt").read_bytes() == b"original"


def test_download_chmod_and_mdtm_write_switched_off(start_ferryd: StartFerryd) -> None:
    config = PLAIN + "download_enable=NO\nchmod_enable=NO\nmdtm_write=NO\n"
    with start_ferryd(config) as running:
        home = running.home("alice")
        (home / "report.csv").write_bytes(b"1,2,3\n")
        before = (home / "report.csv").stat()
        with RawFtp(running.host, running.port) as raw:
            raw.login()
            first, payload, _last = retrieve(raw, "RETR report.csv")
            assert (first.code, payload) == (550, b"")
            assert raw.cmd("XSHA256 report.csv").code == 550  # a hash reads the content too
            _first, listing, last = retrieve(raw, "NLST")  # listing is still allowed
            assert (listing, last.code) == (b"report.csv\r\n", 226)
            first, last = store(raw, "STOR upload.csv", b"4,5,6\n")  # and uploading
            assert last.code == 226
            assert raw.cmd("SITE CHMOD 600 report.csv").code == 550  # chmod_enable=NO
            for command in ("MFMT 20200102030405 report.csv", "MDTM 20200102030405 report.csv"):
                assert raw.cmd(command).code == 550, command  # mdtm_write=NO
            assert raw.cmd("MDTM report.csv").code == 213  # reading the time is fine
        assert (home / "upload.csv").read_bytes() == b"4,5,6\n"
        after = (home / "report.csv").stat()
        assert (after.st_mode, after.st_mtime) == (before.st_mode, before.st_mtime)


CMDS_CONFIG = (
    PLAIN + "cmds_allowed=USER,PASS,QUIT,PWD,CWD,PASV,RETR,NLST,DELE,TYPE,MKD,XMKD\n"
    "cmds_denied=DELE,XMKD\n"
)


@pytest.fixture(scope="module")
def cmds_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with shared_server(tmp_path_factory, CMDS_CONFIG) as running:
        (running.home("alice") / "f.txt").write_bytes(b"f")
        yield running


def test_cmds_allowed_and_cmds_denied(cmds_server: RunningFerryd) -> None:
    home = cmds_server.home("alice")
    with RawFtp(cmds_server.host, cmds_server.port) as raw:
        raw.login()
        assert raw.cmd("PWD").code == 257
        _first, content, last = retrieve(raw, "RETR f.txt")
        assert (content, last.code) == (b"f", 226)
        assert raw.cmd("DELE f.txt").text == "550 Permission denied."  # denied wins
        assert raw.cmd("SIZE f.txt").code == 550
        assert raw.cmd("RMD x").code == 550
        first, _last = store(raw, "STOR g.txt", b"g")
        assert first.code == 550
        assert raw.cmd("MKD made").code == 257
        assert raw.cmd("QUIT").code == 221
    assert sorted(path.name for path in home.iterdir()) == ["f.txt", "made"]


def test_cmds_denied_names_the_verb_as_sent(cmds_server: RunningFerryd) -> None:
    """vsftpd matches the verb the client sent: cmds_denied=XMKD refuses XMKD, not MKD."""
    with RawFtp(cmds_server.host, cmds_server.port) as raw:
        raw.login()
        assert raw.cmd("XMKD x-made").code == 550
    assert not (cmds_server.home("alice") / "x-made").exists()
