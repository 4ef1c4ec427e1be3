"""Limits shared with FTP: max_clients counted across FTP and SFTP, local_max_rate on SFTP and
SCP transfers, and the transfer logs naming the protocol in both formats."""

from __future__ import annotations

import asyncio
import ftplib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import wait_until
from tests.functional.ssh_clients import (
    PASSWORD,
    TIMEOUT,
    USER,
    OpenSsh,
    log_text,
    sftp_server,
    sftp_session,
    sha256,
)

MAX_RATE = 256 * 1024  # bytes per second
SIZE = 2 * MAX_RATE + 1  # at least two seconds each way at MAX_RATE


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    extra = f"max_clients=2\nlocal_max_rate={MAX_RATE}\n"
    with sftp_server(tmp_path_factory.mktemp("limits"), extra) as running:
        yield running


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT))


def ftp_login(server: RunningFerryd) -> ftplib.FTP:
    client = ftplib.FTP()
    try:
        client.connect(server.host, server.ports["ftp"], timeout=TIMEOUT)
        client.login(USER, PASSWORD)
    except BaseException:
        client.close()
        raise
    return client


def _third_ftp_refused(server: RunningFerryd) -> str:
    client = ftplib.FTP()
    try:
        with pytest.raises(ftplib.error_temp) as refused:
            client.connect(server.host, server.ports["ftp"], timeout=TIMEOUT)
    finally:
        client.close()
    return str(refused.value)


def test_max_clients_counts_ftp_and_sftp_together(server: RunningFerryd) -> None:
    async def scenario() -> tuple[str, str]:
        async with sftp_session(server) as sftp:  # with the FTP one: two, max_clients=2
            await sftp.listdir(".")
            with pytest.raises(asyncssh.DisconnectError) as refused:
                async with sftp_session(server):
                    pass
            ftp_reply = await asyncio.to_thread(_third_ftp_refused, server)
        return str(refused.value), ftp_reply

    with ftp_login(server) as ftp:
        sftp_reason, ftp_reply = run(scenario())
        assert ftp.voidcmd("NOOP").startswith("200")  # the admitted ones go on
    assert "There are too many connected users, please try later." in sftp_reason
    assert ftp_reply.startswith("421 There are too many connected users")

    def both_fit() -> bool:
        async def listing() -> list[str]:
            async with sftp_session(server) as sftp:
                return list(await sftp.listdir("."))

        try:
            with ftp_login(server):
                run(listing())
        except (ftplib.Error, asyncssh.Error, OSError):
            return False
        return True

    assert wait_until(both_fit)  # released when they close


def logged_rate(log: str, kind: str, path: str) -> float:
    """The Kbyte/sec of vsftpd's OK line for `path` (the log's own measure of the rate)."""
    match = re.search(rf'\[(sftp|scp)\] OK {kind}: Client "127.0.0.1", "{re.escape(path)}", '
                      rf"{SIZE} bytes, ([0-9.]+)Kbyte/sec", log)
    assert match is not None, log
    return float(match.group(2))


def test_local_max_rate_holds_for_sftp_and_scp_and_the_logs_name_the_protocol(
    server: RunningFerryd, tmp_path: Path,
) -> None:
    payload = os.urandom(SIZE)
    (tmp_path / "rated.bin").write_bytes(payload)

    async def upload() -> None:
        async with sftp_session(server) as sftp:
            await sftp.put(str(tmp_path / "rated.bin"), "rated.bin")

    run(upload())
    download = OpenSsh(server, tmp_path).scp(OpenSsh(server, tmp_path).remote("rated.bin"),
                                             "back.bin", legacy=True)
    assert download.returncode == 0, download.stderr
    assert sha256((tmp_path / "back.bin").read_bytes()) == sha256(payload)
    assert sha256((server.home(USER) / "rated.bin").read_bytes()) == sha256(payload)

    assert wait_until(lambda: "[scp] OK DOWNLOAD" in log_text(server, "vsftpd.log"))
    vsftpd_log = log_text(server, "vsftpd.log")
    limit = MAX_RATE / 1024 * 1.01  # the log rounds to two decimals
    assert logged_rate(vsftpd_log, "UPLOAD", "/rated.bin") <= limit
    assert logged_rate(vsftpd_log, "DOWNLOAD", "/rated.bin") <= limit
    assert f'[{USER}] [sftp] OK UPLOAD: Client "127.0.0.1", "/rated.bin"' in vsftpd_log
    assert f'[{USER}] [scp] OK DOWNLOAD: Client "127.0.0.1", "/rated.bin"' in vsftpd_log
    xferlog = log_text(server, "xferlog")
    # wu-ftpd's fields: ... seconds host size name type action direction mode user service
    for direction, service in (("i", "sftp"), ("o", "scp")):
        line = re.search(rf" (\d+) 127\.0\.0\.1 {SIZE} /rated\.bin b _ {direction} r {USER} "
                         rf"{service} 0 \* c$", xferlog, re.M)
        assert line is not None, xferlog
        assert int(line.group(1)) >= SIZE // MAX_RATE  # whole seconds, as xferlog has them
