"""LIST, NLST, MLSD, MLST and STAT: parsed as clients parse them; dot files; hide_file."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import PLAIN, RawFtp, ftp_client, retrieve, shared_server, store

# `-rw-r--r--    1 1000     1000         1234 Nov 27 18:32 name`, as FileZilla/curl parse it
_LS_LINE = re.compile(
    r"^(?P<mode>[-dl][rwxsStT-]{9}) +(?P<links>\d+) +(?P<owner>\S+) +(?P<group>\S+) +"
    r"(?P<size>\d+) (?P<month>[A-Z][a-z]{2}) [ \d]\d (?:\d\d:\d\d| \d{4}) (?P<name>.+)$"
)


def _populate(home: Path) -> None:
    (home / "listing").mkdir()
    folder = home / "listing"
    (folder / "data.csv").write_bytes(b"a,b\n1,2\n")
    (folder / ".hidden").write_bytes(b"secret-ish")
    (folder / "sub").mkdir()
    (folder / "sub" / "deep.txt").write_bytes(b"deep")
    (folder / "with space.txt").write_bytes(b"spaced")
    (folder / "old.txt").write_bytes(b"old")
    old = time.time() - 400 * 24 * 3600
    os.utime(folder / "old.txt", (old, old))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with shared_server(tmp_path_factory, PLAIN + "ls_recurse_enable=YES\n") as running:
        _populate(running.home("alice"))
        yield running


def _parsed(lines: list[str]) -> dict[str, re.Match[str]]:
    parsed: dict[str, re.Match[str]] = {}
    for line in lines:
        match = _LS_LINE.match(line)
        assert match is not None, f"unparseable listing line: {line!r}"
        parsed[match.group("name")] = match
    return parsed


def test_list_is_ls_l_format(server: RunningFerryd) -> None:
    with ftp_client(server) as client:
        lines: list[str] = []
        client.retrlines("LIST listing", lines.append)
    entries = _parsed(lines)
    assert set(entries) == {"data.csv", "sub", "with space.txt", "old.txt"}
    assert entries["data.csv"].group("size") == "8"
    assert entries["data.csv"].group("mode").startswith("-")
    assert entries["sub"].group("mode").startswith("d")
    assert re.search(r" \d{4} old\.txt$", entries["old.txt"].group(0))  # year, not time


def test_list_a_shows_dot_files_and_nlst_hides_them(server: RunningFerryd) -> None:
    with ftp_client(server) as client:
        lines: list[str] = []
        client.retrlines("LIST -la listing", lines.append)
        names = client.nlst("listing")
    assert ".hidden" in _parsed(lines)
    assert sorted(names) == ["data.csv", "old.txt", "sub", "with space.txt"]


def test_list_of_a_file_lists_that_file(server: RunningFerryd) -> None:
    with ftp_client(server) as client:
        lines: list[str] = []
        client.retrlines("LIST listing/data.csv", lines.append)
    assert list(_parsed(lines)) == ["data.csv"]


def test_list_recursive_when_ls_recurse_enable(server: RunningFerryd) -> None:
    with ftp_client(server) as client:
        lines: list[str] = []
        client.retrlines("LIST -R listing", lines.append)
    assert "/listing/sub:" in lines
    assert any(line.endswith(" deep.txt") for line in lines)


def test_nlst_glob_filters(server: RunningFerryd) -> None:
    with ftp_client(server) as client:
        assert client.nlst("listing/*.txt") == ["old.txt", "with space.txt"]


def test_mlsd_facts(server: RunningFerryd) -> None:
    with ftp_client(server) as client:
        entries = dict(client.mlsd("listing"))
    assert entries["."]["type"] == "cdir"
    assert entries["data.csv"]["type"] == "file"
    assert entries["data.csv"]["size"] == "8"
    assert entries["sub"]["type"] == "dir"
    assert ".hidden" in entries  # MLSD shows every entry; clients filter
    stamp = entries["data.csv"]["modify"]
    assert re.fullmatch(r"\d{14}", stamp)
    mtime = (server.home("alice") / "listing" / "data.csv").stat().st_mtime
    assert stamp == time.strftime("%Y%m%d%H%M%S", time.gmtime(mtime))
    assert set(entries["data.csv"]["perm"]) >= set("adfrw")
    assert entries["data.csv"]["unix.mode"] == "0644"


def test_mlst_one_entry_and_opts_mlst(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        reply = raw.cmd("MLST listing/data.csv")
        assert reply.code == 250, reply
        fact_line = reply.text.splitlines()[1]
        assert fact_line.startswith(" ") and fact_line.endswith(" /listing/data.csv")
        assert "size=8;" in fact_line and "type=file;" in fact_line
        assert raw.cmd("OPTS MLST type;size;").code == 200
        narrowed = raw.cmd("MLST listing/data.csv").text.splitlines()[1]
        assert narrowed == " type=file;size=8; /listing/data.csv"
        assert raw.cmd("MLST missing").code == 550


def test_stat_path_lists_over_the_control_connection(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        reply = raw.cmd("STAT listing")
        status = raw.cmd("STAT")
    assert reply.code == 213, reply
    assert any(line.endswith(" data.csv") for line in reply.text.splitlines())
    assert status.code == 211 and "Logged in as alice" in status.text


def test_list_of_a_missing_folder_is_550_and_the_session_goes_on(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        first, _payload, _last = retrieve(raw, "LIST no-such-folder")
        assert first.code == 550
        first, payload, last = retrieve(raw, "NLST listing")
        assert (first.code, last.code) == (150, 226)
        assert b"data.csv\r\n" in payload


@pytest.fixture(scope="module")
def names_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    config = PLAIN + "force_dot_files=YES\nhide_file={*.tmp}\ndeny_file={*.key,secret}\n"
    with shared_server(tmp_path_factory, config) as running:
        home = running.home("alice")
        (home / ".profile").write_bytes(b"x")
        (home / "work.tmp").write_bytes(b"hidden but readable")
        (home / "server.key").write_bytes(b"denied")
        (home / "secret").mkdir()
        (home / "secret" / "inner.txt").write_bytes(b"denied too")
        (home / "public.txt").write_bytes(b"public")
        yield running


def test_force_dot_files_lists_dot_files_without_a(names_server: RunningFerryd) -> None:
    with ftp_client(names_server) as client:
        names = client.nlst()
        lines: list[str] = []
        client.retrlines("LIST", lines.append)
    assert sorted(names) == [".profile", "public.txt"]
    assert set(_parsed(lines)) == {".profile", "public.txt"}


def test_hide_file_hides_but_deny_file_refuses(names_server: RunningFerryd) -> None:
    home = names_server.home("alice")
    with RawFtp(names_server.host, names_server.port) as raw:
        raw.login()
        _first, content, last = retrieve(raw, "RETR work.tmp")
        assert (content, last.code) == (b"hidden but readable", 226)
        for target in ("server.key", "secret/inner.txt", "./secret/../server.key"):
            first, _content, _last = retrieve(raw, f"RETR {target}")
            assert first.code == 550, target
        assert raw.cmd("CWD secret").code == 550
        assert raw.cmd("SIZE server.key").code == 550
        assert raw.cmd("DELE server.key").code == 550
        assert raw.cmd("RNFR server.key").code == 550
        assert raw.cmd("MLST server.key").code == 550
        first, _last = store(raw, "STOR new.key", b"planted")
        assert first.code == 550
        first, listing, _last = retrieve(raw, "MLSD")
        assert b"server.key" not in listing and b"work.tmp" not in listing
    assert (home / "server.key").read_bytes() == b"denied"
    assert not (home / "new.key").exists()


def test_dirlist_enable_no_refuses_listings(start_ferryd: StartFerryd) -> None:
    with start_ferryd(PLAIN + "dirlist_enable=NO\n") as running:
        home = running.home("alice")
        (home / "f.txt").write_bytes(b"still downloadable")
        with RawFtp(running.host, running.port) as raw:
            raw.login()
            for command in ("LIST", "NLST", "MLSD"):
                first, payload, _last = retrieve(raw, command)
                assert (first.code, payload) == (550, b""), (command, first)
            assert raw.cmd("STAT /").code == 550
            _first, content, last = retrieve(raw, "RETR f.txt")
            assert (content, last.code) == (b"still downloadable", 226)
