"""A client that vanishes mid-upload or mid-download (TCP reset on every connection), over
FTP, explicit and implicit FTPS and SFTP, and ABOR mid-transfer: the server keeps serving,
no half upload is visible, the file being read is untouched, and no descriptor leaks."""

from __future__ import annotations

import ftplib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import RawFtp, wait_until
from tests.reliability.clients import (
    FTP_PROTOCOLS,
    ftp_download,
    ftp_login,
    ftp_upload,
    reset_close,
    run_bounded,
    sftp_download,
    sftp_upload,
    sha256,
    ssh_connection,
)
from tests.reliability.conftest import Record
from tests.reliability.servers import USER, ProcessFootprint, all_protocols_server

BIG = os.urandom(8 << 20)  # more than loopback buffers hold: still running when cut
PROTOCOLS = (*FTP_PROTOCOLS, "sftp")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, certificate: Path) -> Iterator[
        RunningFerryd]:
    with all_protocols_server(tmp_path_factory.mktemp("vanish"), certificate) as running:
        (running.home(USER) / "big.bin").write_bytes(BIG)
        yield running


def _visible_names(home: Path) -> list[str]:
    return sorted(path.name for path in home.iterdir())


def _settled(server: RunningFerryd, baseline: ProcessFootprint) -> bool:
    """The server holds no more descriptors than before the broken session."""
    return wait_until(
        lambda: ProcessFootprint.of(server.process.pid).open_fds <= baseline.open_fds, 15
    )


def _vanish_mid_ftp_upload(server: RunningFerryd, protocol: str, name: str) -> None:
    client = ftp_login(server, protocol)
    data = client.transfercmd(f"STOR {name}")
    data.sendall(BIG[: 1 << 20])
    reset_close(data)
    assert client.sock is not None
    reset_close(client.sock)


def _vanish_mid_ftp_download(server: RunningFerryd, protocol: str) -> None:
    client = ftp_login(server, protocol)
    data = client.transfercmd("RETR big.bin")
    received = 0
    for _ in range(1000):
        received += len(data.recv(65536))
        if received >= 1 << 20:
            break
    reset_close(data)
    assert client.sock is not None
    reset_close(client.sock)


async def _vanish_mid_sftp(server: RunningFerryd, upload: bool, name: str) -> None:
    async with ssh_connection(server) as conn:
        sftp = await conn.start_sftp_client()
        if upload:
            handle = await sftp.open(name, "wb")
            await handle.write(BIG[: 1 << 20])
        else:
            handle = await sftp.open("big.bin", "rb")
            assert len(await handle.read(1 << 20)) == 1 << 20
        conn.abort()  # the transport drops: no channel close, no SSH disconnect


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_client_vanishing_mid_upload_leaves_nothing(
    server: RunningFerryd, protocol: str, record: Record
) -> None:
    home = server.home(USER)
    name = f"vanished-{protocol}.bin"
    baseline = ProcessFootprint.of(server.process.pid)
    if protocol == "sftp":
        run_bounded(_vanish_mid_sftp(server, True, name))
    else:
        _vanish_mid_ftp_upload(server, protocol, name)
    # atomic mode: neither the final name nor the hidden partial stays behind
    assert wait_until(lambda: _visible_names(home) == ["big.bin"], 15), _visible_names(home)
    assert _settled(server, baseline)
    payload = os.urandom(300_000)  # the name is free again (no lock held) and works
    if protocol == "sftp":
        run_bounded(sftp_upload(server, name, payload))
    else:
        assert ftp_upload(server, protocol, name, payload).startswith("226")
    lost = 0 if (home / name).read_bytes() == payload else len(payload)
    (home / name).unlink()
    record(area="client vanishes", fault="TCP reset mid-upload (1 of 8 MiB sent)",
           protocols=protocol, sessions=2, faults=1, bytes_lost=lost,
           detail="no file under the final name, no hidden partial, descriptors back")
    assert lost == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_client_vanishing_mid_download_changes_nothing(
    server: RunningFerryd, protocol: str, record: Record
) -> None:
    baseline = ProcessFootprint.of(server.process.pid)
    if protocol == "sftp":
        run_bounded(_vanish_mid_sftp(server, False, "unused"))
    else:
        _vanish_mid_ftp_download(server, protocol)
    assert _settled(server, baseline)
    assert sha256((server.home(USER) / "big.bin").read_bytes()) == sha256(BIG)
    if protocol == "sftp":
        again = run_bounded(sftp_download(server, "big.bin"))
    else:
        again = ftp_download(server, protocol, "big.bin")
    lost = 0 if again == BIG else len(BIG)
    record(area="client vanishes", fault="TCP reset mid-download (1 of 8 MiB read)",
           protocols=protocol, sessions=2, faults=1, bytes_lost=lost,
           detail="file unchanged, next download whole, descriptors back")
    assert lost == 0


def _abort(client: ftplib.FTP) -> list[str]:
    """ABOR in the control stream (urgent data cannot go through TLS); the replies up to the
    one that ends it: 426 then 226 for a running transfer; 226 (the transfer had just
    finished into the socket buffers) then 225."""
    client.putcmd("ABOR")
    replies = [client.getline()]
    for _ in range(3):
        if replies[-1].startswith(("225", "226 ABOR")):
            break
        replies.append(client.getline())
    return replies


@pytest.mark.parametrize("protocol", FTP_PROTOCOLS)
@pytest.mark.parametrize("direction", ["upload", "download"])
def test_abor_mid_transfer(
    server: RunningFerryd, protocol: str, direction: str, record: Record
) -> None:
    home = server.home(USER)
    name = f"aborted-{protocol}.bin"
    client = ftp_login(server, protocol)
    try:
        if direction == "upload":
            data = client.transfercmd(f"STOR {name}")
            data.sendall(BIG[: 1 << 20])
        else:
            data = client.transfercmd("RETR big.bin")
            assert data.recv(65536)
        replies = _abort(client)
        reset_close(data)
        assert [reply[:3] for reply in replies] in (["426", "226"], ["226"], ["226", "225"]), \
            replies
        assert client.voidcmd("NOOP").startswith("200")
        chunks: list[bytes] = []
        client.retrbinary("RETR big.bin", chunks.append)  # the same session goes on
    finally:
        client.close()
    assert not (home / name).exists()
    assert wait_until(lambda: _visible_names(home) == ["big.bin"], 15), _visible_names(home)
    lost = 0 if b"".join(chunks) == BIG else len(BIG)
    record(area="abort", fault=f"ABOR mid-{direction}", protocols=protocol, sessions=1,
           faults=1, bytes_lost=lost,
           detail=f"replies {' then '.join(r[:3] for r in replies)}; session continued")
    assert lost == 0


def test_complete_uploads_over_every_protocol_are_whole(
    server: RunningFerryd, record: Record
) -> None:
    """The control case: complete uploads over each protocol are whole when acknowledged."""
    home = server.home(USER)
    payloads = {protocol: os.urandom(500_000) for protocol in PROTOCOLS}
    for protocol, payload in payloads.items():
        if protocol == "sftp":
            run_bounded(sftp_upload(server, f"whole-{protocol}.bin", payload))
        else:
            assert ftp_upload(server, protocol, f"whole-{protocol}.bin", payload)[:3] == "226"
    lost = sum(len(p) for protocol, p in payloads.items()
               if (home / f"whole-{protocol}.bin").read_bytes() != p)
    for protocol in payloads:
        (home / f"whole-{protocol}.bin").unlink()
    record(area="control", fault="complete uploads, one per protocol", protocols=", ".join(
        PROTOCOLS), sessions=len(PROTOCOLS), bytes_lost=lost)
    assert lost == 0


def test_abor_pipelined_behind_stor_leaks_nothing(server: RunningFerryd, record: Record) -> None:
    """STOR and ABOR in one packet: the transfer is cancelled before it ever ran. It once
    kept its hidden file, descriptor and data socket (2 descriptors per abort)."""
    home = server.home(USER)
    baseline = ProcessFootprint.of(server.process.pid)
    rounds = 5
    for _ in range(rounds):
        with RawFtp(server.host, server.ports["ftp"]) as raw:
            raw.login()
            raw.cmd("TYPE I")
            with raw.pasv() as data:
                data.sendall(b"x" * 1000)
                raw.send_raw(b"STOR pipelined.bin\r\nABOR\r\n")
                codes = [raw.reply().code for _ in range(3)]
            assert codes in ([150, 426, 226], [150, 226, 225]), codes
    assert wait_until(lambda: _visible_names(home) == ["big.bin"], 15), _visible_names(home)
    assert _settled(server, baseline)
    record(area="abort", fault="ABOR pipelined behind STOR (same packet)", protocols="ftp",
           sessions=rounds, faults=rounds, detail="no hidden partial, descriptors back")
