"""Confinement: `..`, `//`, `~`, absolute paths and symlinks never leave the user's home."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import RawFtp, retrieve, shared_server, store

OUTSIDE_SECRET = b"the server's own secret, outside every home"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with shared_server(tmp_path_factory) as running:
        home = running.home("alice")
        outside = running.data_dir / "outside"
        outside.mkdir()
        (outside / "secret.txt").write_bytes(OUTSIDE_SECRET)
        (running.data_dir / "top-secret.txt").write_bytes(OUTSIDE_SECRET)
        (home / "inside").mkdir()
        (home / "inside" / "ok.txt").write_bytes(b"inside")
        os.symlink(outside, home / "escape-dir")
        os.symlink(outside / "secret.txt", home / "escape-file")
        os.symlink("../../outside/secret.txt", home / "inside" / "relative-escape")
        os.symlink("ok.txt", home / "inside" / "good-link")
        yield running


def _outside(server: RunningFerryd) -> Path:
    return server.data_dir / "outside"


def test_dotdot_stops_at_the_home(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        assert raw.cmd("CWD ../../..").code == 250
        assert raw.cmd("PWD").text == '257 "/" is the current directory'
        assert raw.cmd("CWD inside/../../../inside").code == 250
        assert raw.cmd("PWD").text == '257 "/inside" is the current directory'
        assert raw.cmd("CDUP").code == 250
        assert raw.cmd("CDUP").code == 250
        assert raw.cmd("PWD").text == '257 "/" is the current directory'
        first, content, _last = retrieve(raw, "RETR ../../top-secret.txt")
        assert (first.code, content) == (550, b"")
        first, payload, _last = retrieve(raw, "NLST ../..")  # that is "/": the home
        assert first.code == 150
        assert b"inside" in payload.split()
        assert b"top-secret.txt" not in payload and b"outside" not in payload


def test_double_slashes_and_tilde_are_the_home(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        _first, content, last = retrieve(raw, "RETR //inside//ok.txt")
        assert (content, last.code) == (b"inside", 226)
        assert raw.cmd("CWD ~").code == 250
        assert raw.cmd("PWD").text == '257 "/" is the current directory'
        _first, content, last = retrieve(raw, "RETR ~/inside/ok.txt")
        assert (content, last.code) == (b"inside", 226)
        assert raw.cmd("CWD ~root").code == 550  # tilde_user_enable is off: no other homes
        assert raw.cmd("CWD /etc").code == 550
        assert raw.cmd("SIZE /etc/passwd").code == 550


def test_symlinks_pointing_outside_are_refused(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        for target in ("escape-file", "escape-dir/secret.txt", "inside/relative-escape"):
            first, content, _last = retrieve(raw, f"RETR {target}")
            assert first.code == 550, (target, first)
            assert content == b""
        assert raw.cmd("CWD escape-dir").code == 550
        first, payload, _last = retrieve(raw, "LIST escape-dir")
        assert first.code == 550 and b"secret" not in payload
        assert raw.cmd("SIZE escape-file").code == 550
        assert raw.cmd("MDTM escape-file").code == 550
        assert raw.cmd("XSHA256 escape-file").code == 550
        assert raw.cmd("SITE CHMOD 777 escape-file").code == 550
        first, _last_store = store(raw, "STOR escape-dir/planted.txt", b"planted")
        assert first.code == 550, first
        assert raw.cmd("MKD escape-dir/newdir").code == 550
        assert raw.cmd("NOOP").code == 200
    outside = _outside(server)
    assert sorted(path.name for path in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == OUTSIDE_SECRET
    assert oct((outside / "secret.txt").stat().st_mode & 0o777) != oct(0o777)


def test_storing_onto_an_outside_symlink_does_not_write_through_it(
    server: RunningFerryd,
) -> None:
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        for command in ("STOR escape-file", "APPE escape-file", "STOU escape-dir/x"):
            first, _last = store(raw, command, b"written through the link?")
            assert first.code == 550, (command, first)
    assert (_outside(server) / "secret.txt").read_bytes() == OUTSIDE_SECRET


def test_renaming_a_symlink_does_not_move_its_target(server: RunningFerryd) -> None:
    home = server.home("alice")
    os.symlink(_outside(server) / "secret.txt", home / "link-to-move")
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        assert raw.cmd("RNFR link-to-move").code == 350  # the link itself, not its target
        assert raw.cmd("RNTO moved-link").code == 250
        assert (home / "moved-link").is_symlink()
        assert raw.cmd("DELE moved-link").code == 250  # removes the link only
    assert not os.path.lexists(home / "moved-link")
    assert (_outside(server) / "secret.txt").read_bytes() == OUTSIDE_SECRET


def test_a_symlink_inside_the_home_still_works(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        _first, content, last = retrieve(raw, "RETR inside/good-link")
        assert (content, last.code) == (b"inside", 226)


def test_listing_shows_no_outside_metadata(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        _first, payload, last = retrieve(raw, "LIST -a")
        assert last.code == 226
    size = str(len(OUTSIDE_SECRET)).encode()
    for line in payload.splitlines():
        if line.endswith(b" escape-file"):
            assert not line.startswith(b"-") or size not in line.split()


def test_local_root_confines_every_user_to_one_folder(tmp_path: Path) -> None:
    from tests.functional.ferryd_process import running_ferryd
    from tests.functional.raw_ftp import PLAIN

    shared = tmp_path / "shared-root"
    shared.mkdir()
    (shared / "common.txt").write_bytes(b"common")
    with running_ferryd(tmp_path, PLAIN + f"local_root={shared}\n", {"alice": "wonderland"}) \
            as running, RawFtp(running.host, running.port) as raw:
        raw.login()
        _first, payload, _last = retrieve(raw, "NLST")
        assert payload.split() == [b"common.txt"]
        assert raw.cmd("CWD ..").code == 250
        _first, payload, _last = retrieve(raw, "NLST")
        assert payload.split() == [b"common.txt"]
