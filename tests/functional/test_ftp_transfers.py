"""Uploads and downloads over ftplib: sizes from 0 B to 64 MiB, resume, append, rename, STOU."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import (
    RawFtp,
    file_sha256,
    ftp_client,
    receive_all,
    retrieve,
    sha256,
    shared_server,
    store,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with shared_server(tmp_path_factory) as running:
        yield running


@pytest.mark.parametrize("size", [0, 1, 4095, 65_537, 1_048_579, 64 << 20])
def test_upload_then_download_keeps_every_byte(server: RunningFerryd, size: int) -> None:
    payload = os.urandom(size)
    name = f"blob-{size}.bin"
    received = io.BytesIO()
    with ftp_client(server) as client:
        assert client.storbinary(f"STOR {name}", io.BytesIO(payload)).startswith("226")
        assert client.size(name) == size
        assert client.retrbinary(f"RETR {name}", received.write).startswith("226")
    assert file_sha256(server.home("alice") / name) == sha256(payload)
    assert sha256(received.getvalue()) == sha256(payload)


def test_overwrite_replaces_the_whole_file(server: RunningFerryd) -> None:
    with ftp_client(server) as client:
        client.storbinary("STOR over.txt", io.BytesIO(b"a much longer first version\n"))
        client.storbinary("STOR over.txt", io.BytesIO(b"short\n"))
    assert (server.home("alice") / "over.txt").read_bytes() == b"short\n"


def test_download_resumes_at_rest_offset(server: RunningFerryd) -> None:
    payload = os.urandom(300_001)
    (server.home("alice") / "resume-down.bin").write_bytes(payload)
    received = io.BytesIO()
    with ftp_client(server) as client:
        client.retrbinary("RETR resume-down.bin", received.write, rest=123_456)
    assert received.getvalue() == payload[123_456:]


def test_download_rest_at_end_sends_nothing_and_beyond_end_is_refused(
    server: RunningFerryd,
) -> None:
    (server.home("alice") / "ten.bin").write_bytes(b"0123456789")
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        assert raw.cmd("TYPE I").code == 200
        assert raw.cmd("REST 10").code == 350
        first, payload, last = retrieve(raw, "RETR ten.bin")
        assert (first.code, payload, last.code) == (150, b"", 226)
        assert raw.cmd("REST 11").code == 350
        with raw.pasv():
            refused = raw.cmd("RETR ten.bin")
        assert refused.code >= 500, refused
        assert raw.cmd("NOOP").code == 200


def test_upload_resumes_at_rest_offset(server: RunningFerryd) -> None:
    payload = os.urandom(200_003)
    target = server.home("alice") / "resume-up.bin"
    target.write_bytes(payload[:77_777] + b"garbage that the resumed upload overwrites")
    with ftp_client(server) as client:
        client.storbinary("STOR resume-up.bin", io.BytesIO(payload[77_777:]), rest=77_777)
    assert target.read_bytes() == payload


def test_appe_appends_and_creates(server: RunningFerryd) -> None:
    target = server.home("alice") / "log.txt"
    with ftp_client(server) as client:
        assert client.storbinary("APPE log.txt", io.BytesIO(b"one\n")).startswith("226")
        assert client.storbinary("APPE log.txt", io.BytesIO(b"two\n")).startswith("226")
    assert target.read_bytes() == b"one\ntwo\n"


def test_rename_moves_a_file_and_a_folder(server: RunningFerryd) -> None:
    home = server.home("alice")
    (home / "before.txt").write_bytes(b"content")
    (home / "olddir").mkdir()
    with ftp_client(server) as client:
        assert client.rename("before.txt", "after.txt").startswith("250")
        assert client.rename("olddir", "newdir").startswith("250")
        assert client.rename("after.txt", "newdir/inside.txt").startswith("250")
    assert not (home / "before.txt").exists()
    assert (home / "newdir" / "inside.txt").read_bytes() == b"content"


def test_rename_needs_rnfr_and_an_existing_source(server: RunningFerryd) -> None:
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        assert raw.cmd("RNTO nowhere").code == 503
        assert raw.cmd("RNFR does-not-exist").code == 550
        assert raw.cmd("RNTO nowhere").code == 503
        (server.home("alice") / "r.txt").write_bytes(b"r")
        assert raw.cmd("RNFR r.txt").code == 350
        assert raw.cmd("NOOP").code == 200
        assert raw.cmd("RNTO r2.txt").code == 503  # another command came between
    assert (server.home("alice") / "r.txt").exists()


def test_stou_creates_a_fresh_name(server: RunningFerryd) -> None:
    home = server.home("alice")
    (home / "unique.txt").write_bytes(b"keep me")
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        first, last = store(raw, "STOU unique.txt", b"new data")
        assert (first.code, last.code) == (150, 226), (first, last)
        name = first.text.split("FILE: ", 1)[1].strip()
    assert name != "unique.txt"
    assert (home / "unique.txt").read_bytes() == b"keep me"
    assert (home / name).read_bytes() == b"new data"


def test_japanese_names_round_trip(server: RunningFerryd) -> None:
    name = "日本語のファイル名.txt"
    folder = "フォルダ"
    payload = "こんにちは、世界\n".encode()
    received = io.BytesIO()
    with ftp_client(server) as client:
        assert client.sendcmd("OPTS UTF8 ON").startswith("200")
        client.mkd(folder)
        client.cwd(folder)
        client.storbinary(f"STOR {name}", io.BytesIO(payload))
        assert client.nlst() == [name]
        client.retrbinary(f"RETR {name}", received.write)
        assert client.pwd() == f"/{folder}"
    assert received.getvalue() == payload
    assert (server.home("alice") / folder / name).read_bytes() == payload


def test_dele_removes_a_file_and_refuses_a_folder(server: RunningFerryd) -> None:
    home = server.home("alice")
    (home / "gone.txt").write_bytes(b"x")
    (home / "stays").mkdir()
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        assert raw.cmd("DELE gone.txt").code == 250
        assert raw.cmd("DELE gone.txt").code == 550
        assert raw.cmd("DELE stays").code == 550
    assert not (home / "gone.txt").exists()
    assert (home / "stays").is_dir()


def test_retr_of_a_folder_or_missing_file_is_550(server: RunningFerryd) -> None:
    (server.home("alice") / "a-folder").mkdir(exist_ok=True)
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        for target in ("a-folder", "missing.bin"):
            with raw.pasv():
                assert raw.cmd(f"RETR {target}").code == 550
        assert raw.cmd("NOOP").code == 200


def test_upload_where_it_cannot_go_is_553(server: RunningFerryd) -> None:
    (server.home("alice") / "a-dir").mkdir(exist_ok=True)
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        for command in ("STOR no-such-dir/x.txt", "STOR a-dir", "STOR /"):
            first, _last = store(raw, command, b"x")
            assert first.code == 553, command
        assert raw.cmd("NOOP").code == 200
    assert not (server.home("alice") / "no-such-dir").exists()


def test_rename_over_an_existing_file_replaces_it(server: RunningFerryd) -> None:
    home = server.home("alice")
    (home / "new-version.txt").write_bytes(b"new")
    (home / "current.txt").write_bytes(b"old")
    (home / "a-dir").mkdir(exist_ok=True)
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        assert raw.cmd("RNFR new-version.txt").code == 350
        assert raw.cmd("RNTO current.txt").code == 250
        assert raw.cmd("RNFR current.txt").code == 350
        assert raw.cmd("RNTO a-dir").text == "550 Rename failed."
    assert (home / "current.txt").read_bytes() == b"new"
    assert not (home / "new-version.txt").exists()


def test_stat_answers_during_a_transfer(server: RunningFerryd) -> None:
    (server.home("alice") / "stat-during.bin").write_bytes(b"s" * (8 << 20))
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        raw.cmd("TYPE I")
        with raw.pasv() as data:
            assert raw.cmd("RETR stat-during.bin").code == 150
            assert data.recv(1024)
            status = raw.cmd("STAT")
            assert status.code == 211 and "A transfer is running" in status.text
            assert len(receive_all(data)) > 0
        assert raw.reply().code == 226
