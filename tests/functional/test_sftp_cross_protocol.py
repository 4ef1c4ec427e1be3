"""One account over FTPS and SFTP/SCP: same files, same bytes, same refusals, same limits."""

from __future__ import annotations

import asyncio
import calendar
import ftplib
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.ferryd_process import (
    ReusingFTP_TLS,
    RunningFerryd,
    insecure_client_context,
)
from tests.functional.raw_ftp import wait_until
from tests.functional.ssh_clients import (
    PASSWORD,
    SFTP_CONFIG,
    USER,
    OpenSsh,
    log_text,
    sftp_server,
    sftp_session,
    sha256,
)

TIMEOUT = 30.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, certificate: Path) -> Iterator[
        RunningFerryd]:
    extra = (f"ssl_enable=YES\nrsa_cert_file={certificate}\nrequire_ssl_reuse=YES\n"
             "deny_file={*.secret}\nmax_per_ip=2\n")
    with sftp_server(tmp_path_factory.mktemp("cross"), extra) as running:
        yield running


def ftps(server: RunningFerryd) -> ReusingFTP_TLS:
    client = ReusingFTP_TLS(context=insecure_client_context())
    try:
        client.connect(server.host, server.ports["ftp"], timeout=TIMEOUT)
        client.login(USER, PASSWORD)
        client.prot_p()
    except BaseException:
        client.close()
        raise
    return client


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT))


def test_ftps_upload_then_sftp_list_stat_download_delete(
    server: RunningFerryd, tmp_path: Path,
) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    with ftps(server) as client:
        client.mkd("drop")
        assert client.storbinary("STOR drop/report.bin", io.BytesIO(payload)).startswith("226")
        modified = client.sendcmd("MDTM drop/report.bin").split()[1]
    ftp_mtime = calendar.timegm(time.strptime(modified[:14], "%Y%m%d%H%M%S"))

    async def over_sftp() -> tuple[list[str], asyncssh.SFTPAttrs]:
        async with sftp_session(server) as sftp:
            names = await sftp.listdir("drop")
            attrs = await sftp.stat("drop/report.bin")
            await sftp.get("drop/report.bin", str(tmp_path / "got.bin"))
            await sftp.remove("drop/report.bin")
            return names, attrs

    names, attrs = run(over_sftp())
    assert "report.bin" in names
    assert attrs.size == len(payload) and attrs.mtime == ftp_mtime
    assert sha256((tmp_path / "got.bin").read_bytes()) == sha256(payload)
    with ftps(server) as client:
        assert client.nlst("drop") == []
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            client.size("drop/report.bin")
    log = log_text(server, "vsftpd.log")
    assert '[alice] OK UPLOAD: Client "127.0.0.1", "/drop/report.bin"' in log
    assert '[alice] [sftp] OK DOWNLOAD: Client "127.0.0.1", "/drop/report.bin"' in log
    assert '[alice] [sftp] OK DELETE: Client "127.0.0.1", "/drop/report.bin"' in log


def test_sftp_and_scp_uploads_download_over_ftps(server: RunningFerryd, tmp_path: Path) -> None:
    payload = os.urandom(1_000_003)
    (tmp_path / "via-sftp.bin").write_bytes(payload)
    (tmp_path / "via-scp.bin").write_bytes(payload[::-1])
    client = OpenSsh(server, tmp_path)
    assert client.sftp("put via-sftp.bin").returncode == 0
    legacy = client.scp("via-scp.bin", client.remote("via-scp.bin"), legacy=True)
    assert legacy.returncode == 0, legacy.stderr
    with ftps(server) as ftp:
        for name, expected in (("via-sftp.bin", payload), ("via-scp.bin", payload[::-1])):
            received = io.BytesIO()
            ftp.retrbinary(f"RETR {name}", received.write)
            assert received.getvalue() == expected


def test_the_same_refusals(server: RunningFerryd, tmp_path: Path) -> None:
    (tmp_path / "x.secret").write_text("no\n")
    with ftps(server) as ftp, pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.storbinary("STOR x.secret", io.BytesIO(b"no\n"))
    result = OpenSsh(server, tmp_path).sftp("-put x.secret", "-get ../../etc/passwd")
    assert "Permission denied" in result.stderr and "not found" in result.stderr
    assert not (server.home(USER) / "x.secret").exists()


def _third_ftp_connection_refused(server: RunningFerryd) -> None:
    client = ReusingFTP_TLS(context=insecure_client_context())
    try:
        with pytest.raises(ftplib.error_temp, match=r"^421"):
            client.connect(server.host, server.ports["ftp"], timeout=TIMEOUT)
    finally:
        client.close()


def test_max_per_ip_counts_ftp_and_sftp_together(server: RunningFerryd) -> None:
    async def scenario() -> str:
        async with sftp_session(server):  # with the FTP one: two, max_per_ip=2
            with pytest.raises(asyncssh.DisconnectError) as refused:
                async with sftp_session(server):
                    pass
            await asyncio.to_thread(_third_ftp_connection_refused, server)
        return str(refused.value)

    with ftps(server) as ftp:
        reason = run(scenario())
        assert "too many connections from your internet address" in reason
        ftp.voidcmd("NOOP")
    # both released: one of each fits again
    assert wait_until(lambda: _fits(server))


def _fits(server: RunningFerryd) -> bool:
    async def scenario() -> None:
        async with sftp_session(server) as sftp:
            await sftp.listdir(".")

    try:
        with ftps(server):
            run(scenario())
    except (ftplib.Error, asyncssh.Error, OSError):
        return False
    return True


def test_a_ban_earned_over_sftp_closes_ftp_too(start_ferryd: StartFerryd) -> None:
    config = SFTP_CONFIG + "ban_enable=YES\nban_max_failures=2\nban_window=600\nban_time=600\n"
    with start_ferryd(config, want=("ftp", "sftp")) as server:
        async def scenario() -> str:
            for _attempt in range(2):
                with pytest.raises(asyncssh.PermissionDenied):
                    await asyncssh.connect(
                        server.host, server.ports["sftp"], username=USER, password="guess",
                        known_hosts=None, client_keys=None, agent_path=None, config=None,
                    )
            with pytest.raises(asyncssh.DisconnectError) as refused:
                async with sftp_session(server):
                    pass
            return str(refused.value)

        assert "Too many failed logins from your address" in run(scenario())
        client = ftplib.FTP()
        try:
            with pytest.raises(ftplib.error_temp, match=r"^421"):
                client.connect(server.host, server.ports["ftp"], timeout=TIMEOUT)
        finally:
            client.close()
