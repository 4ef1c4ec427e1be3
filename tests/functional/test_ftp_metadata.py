"""SIZE, MDTM (read and write), MFMT, HASH and the X checksums; FEAT, SYST, HELP, OPTS."""

from __future__ import annotations

import calendar
import hashlib
import os
import zlib
from collections.abc import Iterator

import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import RawFtp, shared_server

CONTENT = bytes(range(256)) * 4099  # 1 049 344 bytes: more than one checksum chunk


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with shared_server(tmp_path_factory) as running:
        home = running.home("alice")
        (home / "data.bin").write_bytes(CONTENT)
        (home / "folder").mkdir()
        (home / "name with spaces.bin").write_bytes(b"spaced")
        yield running


@pytest.fixture
def raw(server: RunningFerryd) -> Iterator[RawFtp]:
    with RawFtp(server.host, server.port) as client:
        assert client.login().code == 230
        yield client


def test_size(raw: RawFtp) -> None:
    assert raw.cmd("SIZE data.bin").text == f"213 {len(CONTENT)}"
    assert raw.cmd("SIZE name with spaces.bin").text == "213 6"
    assert raw.cmd("SIZE missing").code == 550
    assert raw.cmd("SIZE folder").code == 550
    assert raw.cmd("TYPE A").code == 200
    assert raw.cmd("SIZE data.bin").text == f"213 {len(CONTENT)}"  # vsftpd: no ASCII recount


def test_mdtm_reads_utc(server: RunningFerryd, raw: RawFtp) -> None:
    moment = calendar.timegm((2021, 3, 4, 5, 6, 7, 0, 0, 0))
    os.utime(server.home("alice") / "data.bin", (moment, moment))
    assert raw.cmd("MDTM data.bin").text == "213 20210304050607"
    assert raw.cmd("MDTM missing").text == "550 Could not get file modification time."
    assert raw.cmd("MDTM folder").code == 550  # vsftpd: regular files only


def test_mfmt_and_mdtm_write_set_the_time(server: RunningFerryd, raw: RawFtp) -> None:
    target = server.home("alice") / "name with spaces.bin"
    reply = raw.cmd("MFMT 20200102030405 name with spaces.bin")
    assert reply.text == "213 Modify=20200102030405; /name with spaces.bin"
    assert target.stat().st_mtime == calendar.timegm((2020, 1, 2, 3, 4, 5, 0, 0, 0))
    assert raw.cmd("MDTM 19991231235959 name with spaces.bin").code == 213
    assert target.stat().st_mtime == calendar.timegm((1999, 12, 31, 23, 59, 59, 0, 0, 0))
    assert raw.cmd("MDTM name with spaces.bin").text == "213 19991231235959"
    assert raw.cmd("MFMT 2020 name with spaces.bin").code == 501
    assert raw.cmd("MFMT 20201301000000 name with spaces.bin").code == 501
    assert raw.cmd("MFMT 20200102030405 missing").code == 550


def test_x_checksums_match_python(raw: RawFtp) -> None:
    expected = {
        "XMD5": hashlib.md5(CONTENT).hexdigest(),
        "XSHA1": hashlib.sha1(CONTENT).hexdigest(),
        "XSHA256": hashlib.sha256(CONTENT).hexdigest(),
        "XSHA512": hashlib.sha512(CONTENT).hexdigest(),
    }
    for command, digest in expected.items():
        reply = raw.cmd(f"{command} data.bin")
        assert reply.code == 250, reply
        assert reply.text.split()[-1].lower() == digest, command
    crc = raw.cmd("XCRC data.bin")
    assert crc.text.split()[-1] == f"{zlib.crc32(CONTENT):08X}"


def test_x_checksum_of_a_byte_range(raw: RawFtp) -> None:
    reply = raw.cmd("XMD5 data.bin 1000 70000")
    assert reply.text.split()[-1].lower() == hashlib.md5(CONTENT[1000:70000]).hexdigest()
    reply = raw.cmd("XSHA1 name with spaces.bin")
    assert reply.text.split()[-1].lower() == hashlib.sha1(b"spaced").hexdigest()
    assert raw.cmd("XSHA256 missing").code == 550
    assert raw.cmd("XMD5 folder").code == 550


def test_hash_with_opts_hash_and_rest(raw: RawFtp) -> None:
    reply = raw.cmd("HASH data.bin")
    sha = hashlib.sha256(CONTENT).hexdigest()
    assert reply.text == f"213 SHA-256 0-{len(CONTENT)} {sha} data.bin"
    assert raw.cmd("OPTS HASH MD5").text == "200 MD5"
    reply = raw.cmd("HASH data.bin")
    assert reply.text == f"213 MD5 0-{len(CONTENT)} {hashlib.md5(CONTENT).hexdigest()} data.bin"
    assert raw.cmd("REST 100").code == 350
    reply = raw.cmd("HASH data.bin")
    expected = [f"100-{len(CONTENT)}", hashlib.md5(CONTENT[100:]).hexdigest()]
    assert reply.text.split()[2:4] == expected
    assert raw.cmd("OPTS HASH WHIRLPOOL").code == 501
    assert raw.cmd("HASH folder").code == 550


def test_feat_advertises_what_the_server_does(raw: RawFtp) -> None:
    reply = raw.cmd("FEAT")
    lines = reply.text.splitlines()
    assert lines[0].startswith("211-") and lines[-1].startswith("211 ")
    features = {line.strip().split(" ")[0] for line in lines[1:-1]}
    assert {"EPRT", "EPSV", "MDTM", "MFMT", "MLST", "PASV", "REST", "SIZE", "UTF8",
            "HASH", "XCRC", "XSHA256"} <= features
    assert "AUTH" not in features  # ssl_enable=NO
    assert all(line.startswith(" ") for line in lines[1:-1])


def test_syst_help_noop_and_opts(raw: RawFtp) -> None:
    assert raw.cmd("SYST").text == "215 UNIX Type: L8"
    help_reply = raw.cmd("HELP")
    assert help_reply.code == 214 and "RETR" in help_reply.text
    assert raw.cmd("HELP SIZE").code == 214
    assert raw.cmd("NOOP").code == 200
    assert raw.cmd("OPTS UTF8 ON").code == 200
    assert raw.cmd("OPTS NONSENSE").code == 501
    assert raw.cmd("MODE S").code == 200
    assert raw.cmd("MODE B").code == 504
    assert raw.cmd("STRU F").code == 200
    assert raw.cmd("STRU R").code == 504
    assert raw.cmd("TYPE L 8").code == 200
    assert raw.cmd("TYPE E").code == 504
    assert raw.cmd("ALLO 1000").code == 202
