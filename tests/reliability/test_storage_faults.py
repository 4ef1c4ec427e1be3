"""The storage fails under the server: a full disk mid-upload (a 2 MiB tmpfs the test mounts
over the user's home), a read-only (permission denied) storage, and the user's folder removed
while sessions use it. Each gets a proper reply or SFTP status, no partial file is visible,
and the server keeps serving."""

from __future__ import annotations

import ftplib
import os
import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import wait_until
from tests.reliability.clients import (
    FTP_PROTOCOLS,
    ftp_login,
    ftp_upload,
    run_bounded,
    sftp_upload,
    ssh_connection,
)
from tests.reliability.conftest import Record
from tests.reliability.mounts import free_bytes, remount_read_only, small_tmpfs
from tests.reliability.servers import USER, all_protocols_server

TOO_BIG = os.urandom(4 << 20)  # twice the tmpfs
PROTOCOLS = (*FTP_PROTOCOLS, "sftp")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, certificate: Path) -> Iterator[
        RunningFerryd]:
    with all_protocols_server(tmp_path_factory.mktemp("storage"), certificate) as running:
        yield running


def _ftp_store_refused(server: RunningFerryd, protocol: str, name: str, payload: bytes) -> str:
    """STOR whatever the server says meanwhile; the final reply, or the error it raised."""
    client = ftp_login(server, protocol)
    try:
        try:
            data = client.transfercmd(f"STOR {name}")
        except ftplib.Error as exc:
            return str(exc)  # refused before the transfer began
        try:
            data.sendall(payload)
            if isinstance(data, ssl.SSLSocket):
                data.unwrap()
        except OSError:
            pass  # the server stopped reading: its reply says why
        finally:
            data.close()
        try:
            return client.voidresp()
        except ftplib.Error as exc:
            return str(exc)
    finally:
        client.close()


async def _sftp_store_refused(server: RunningFerryd, name: str, payload: bytes) -> str:
    async with ssh_connection(server) as conn, conn.start_sftp_client() as sftp:
        try:
            async with sftp.open(name, "wb") as handle:
                await handle.write(payload)
        except asyncssh.SFTPError as exc:
            return f"SFTP status {exc.code}: {exc.reason}"
    return "accepted"


def _store_refused(server: RunningFerryd, protocol: str, name: str, payload: bytes) -> str:
    if protocol == "sftp":
        return str(run_bounded(_sftp_store_refused(server, name, payload)))
    return _ftp_store_refused(server, protocol, name, payload)


def _upload(server: RunningFerryd, protocol: str, name: str, payload: bytes) -> None:
    if protocol == "sftp":
        run_bounded(sftp_upload(server, name, payload))
    else:
        assert ftp_upload(server, protocol, name, payload).startswith("226")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_disk_full_mid_upload(server: RunningFerryd, protocol: str, record: Record) -> None:
    home = server.home(USER)
    with small_tmpfs(home):
        empty = free_bytes(home)
        outcome = _store_refused(server, protocol, "too-big.bin", TOO_BIG)
        if protocol == "sftp":
            assert outcome.startswith(("SFTP status 4:", "SFTP status 14:")), outcome
            assert "space" in outcome.lower(), outcome
        else:
            assert outcome[:3] in ("452", "552"), outcome
        # no partial under any name, and the space it took is free again
        assert wait_until(lambda: list(home.iterdir()) == [] and free_bytes(home) == empty,
                          15), (list(home.iterdir()), free_bytes(home), empty)
        small = os.urandom(100_000)
        _upload(server, protocol, "small.bin", small)
        lost = 0 if (home / "small.bin").read_bytes() == small else len(small)
        (home / "small.bin").unlink()
    record(area="storage", fault="disk full mid-upload (4 MiB into a 2 MiB tmpfs)",
           protocols=protocol, sessions=2, faults=1, bytes_lost=lost,
           detail=f"{outcome[:60]}; nothing left, space freed, next upload whole")
    assert lost == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_read_only_storage_refuses_uploads_and_serves_downloads(
    server: RunningFerryd, protocol: str, record: Record
) -> None:
    home = server.home(USER)
    with small_tmpfs(home):
        kept = os.urandom(50_000)
        (home / "kept.bin").write_bytes(kept)
        remount_read_only(home)
        outcome = _store_refused(server, protocol, "refused.bin", b"new data")
        if protocol == "sftp":
            assert outcome.startswith("SFTP status 3:"), outcome  # FX_PERMISSION_DENIED
            downloaded = run_bounded(_sftp_read(server, "kept.bin"))
        else:
            assert outcome.startswith("550"), outcome
            downloaded = _ftp_read(server, protocol, "kept.bin")
        assert sorted(p.name for p in home.iterdir()) == ["kept.bin"]
    lost = 0 if downloaded == kept else len(kept)
    record(area="storage", fault="storage read-only (permission denied)", protocols=protocol,
           sessions=2, faults=1, bytes_lost=lost,
           detail=f"upload: {outcome[:50]}; download still whole")
    assert lost == 0


async def _sftp_read(server: RunningFerryd, name: str) -> bytes:
    async with (ssh_connection(server) as conn, conn.start_sftp_client() as sftp,
                sftp.open(name, "rb") as handle):
        return bytes(await handle.read())


def _ftp_read(server: RunningFerryd, protocol: str, name: str) -> bytes:
    chunks: list[bytes] = []
    client = ftp_login(server, protocol)
    try:
        client.retrbinary(f"RETR {name}", chunks.append)
    finally:
        client.close()
    return b"".join(chunks)


def test_home_removed_while_serving(server: RunningFerryd, record: Record) -> None:
    """rm -rf of the user's folder under a logged-in FTP session, an upload in flight and an
    SFTP session: failures are replies, never a false 226; a new login recreates the folder."""
    home = server.home(USER)
    (home / "doomed.bin").write_bytes(b"doomed")
    client = ftp_login(server, "ftp")
    in_flight = ftp_login(server, "ftp")
    codes: list[str] = []
    try:
        data = in_flight.transfercmd("STOR in-flight.bin")
        data.sendall(TOO_BIG[: 1 << 20])
        assert wait_until(lambda: any(home.iterdir()) and sum(
            p.stat().st_size for p in home.iterdir() if p.name != "doomed.bin") >= 1 << 20)

        async def sftp_after_removal() -> str:
            async with ssh_connection(server) as conn, conn.start_sftp_client() as sftp:
                shutil.rmtree(home)
                try:
                    await sftp.listdir(".")
                except asyncssh.SFTPError as exc:
                    return f"SFTP status {exc.code}"
                return "listed"

        sftp_outcome = str(run_bounded(sftp_after_removal()))
        data.sendall(TOO_BIG[1 << 20:])
        data.close()
        try:
            codes.append(in_flight.voidresp()[:3])
        except ftplib.Error as exc:
            codes.append(str(exc)[:3])
        for command in ("NLST", "RETR doomed.bin"):
            try:
                client.retrlines(command, lambda line: None)
                codes.append("2xx")
            except ftplib.Error as exc:
                codes.append(str(exc)[:3])
        assert client.voidcmd("NOOP").startswith("200")
    finally:
        client.close()
        in_flight.close()
    assert codes[0] != "226" and codes[0][0] in "45", codes  # never acknowledged
    assert codes[1:] == ["550", "550"], codes
    assert sftp_outcome == "SFTP status 2", sftp_outcome  # FX_NO_SUCH_FILE
    again = os.urandom(10_000)
    assert ftp_upload(server, "ftp", "again.bin", again).startswith("226")  # folder recreated
    lost = 0 if (home / "again.bin").read_bytes() == again else len(again)
    record(area="storage", fault="user's folder removed while serving (rm -rf)",
           protocols="ftp, sftp", sessions=4, faults=1, bytes_lost=lost,
           detail=f"in-flight upload {codes[0]}, NLST and RETR {codes[1]}, SFTP listdir "
                  f"status 2; next login recreated the folder")
    assert lost == 0
