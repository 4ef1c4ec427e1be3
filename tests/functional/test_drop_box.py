"""The seed's use case: a producer may only deposit, a consumer picks up and deletes."""

from __future__ import annotations

import asyncio
import ftplib
import io
import os
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest

from tests.functional.conftest import PLAIN_CONFIG, StartFerryd
from tests.functional.ssh_clients import sftp_server


def _ferryd_user(server_config: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ferryd.cli", "user", *args, "--config", server_config],
        capture_output=True, text=True, timeout=60,
    )


def _login(port: int, name: str) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect("127.0.0.1", port, timeout=30)
    client.login(name, "secret")
    return client


def test_producer_deposits_consumer_picks_up(start_ferryd: StartFerryd) -> None:
    with start_ferryd(PLAIN_CONFIG, users={"producer": "secret", "consumer": "secret"}) as server:
        config = str(server.config_path)
        inbox = server.home("producer")
        consumer_home = server.home("consumer")
        consumer_home.rmdir()
        consumer_home.symlink_to(inbox)  # both accounts see the same folder as "/"
        assert _ferryd_user(config, "perm", "producer", "/=upload").returncode == 0
        result = _ferryd_user(config, "perm", "consumer", "/=list,download,delete")
        assert result.returncode == 0, result.stderr
        shown = _ferryd_user(config, "show", "producer").stdout
        assert "permissions: /=upload" in shown

        payload = os.urandom(50_000)
        with _login(server.port, "producer") as producer:
            assert producer.storbinary("STOR orders.csv", io.BytesIO(payload)).startswith("226")
            for refused in (
                lambda: producer.storbinary("STOR orders.csv", io.BytesIO(b"overwrite")),
                lambda: producer.retrbinary("RETR orders.csv", lambda _data: None),
                lambda: producer.delete("orders.csv"),
                lambda: producer.nlst(),
                lambda: producer.mkd("sub"),
            ):
                with pytest.raises(ftplib.error_perm, match=r"^550"):
                    refused()
        assert (inbox / "orders.csv").read_bytes() == payload

        with _login(server.port, "consumer") as consumer:
            assert consumer.nlst() == ["orders.csv"]
            received = io.BytesIO()
            consumer.retrbinary("RETR orders.csv", received.write)
            assert received.getvalue() == payload
            with pytest.raises(ftplib.error_perm, match=r"^550"):
                consumer.storbinary("STOR forged.csv", io.BytesIO(b"x"))
            assert consumer.delete("orders.csv").startswith("250")
        assert not (inbox / "orders.csv").exists()
        assert not (inbox / "forged.csv").exists()


def test_bad_permission_rule_is_a_usage_error(start_ferryd: StartFerryd) -> None:
    with start_ferryd() as server:
        result = _ferryd_user(str(server.config_path), "perm", "alice", "/inbox=uplod")
        assert result.returncode == 2
        assert "uplod" in result.stderr and "upload" in result.stderr


def test_shared_folder_between_a_producer_over_ftp_and_a_consumer_over_sftp(
    tmp_path: Path,
) -> None:
    """The README's recipe: separate homes, one exchange folder shared into both trees; the
    producer may only upload there, the consumer list, download and delete; neither sees
    anything else."""
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    users = {"producer": "secret", "consumer": "secret"}
    with sftp_server(tmp_path / "server", users=users) as server:
        config = str(server.config_path)
        for name, rights in (("producer", "upload"), ("consumer", "list,download,delete")):
            result = _ferryd_user(config, "folder", name, f"/exchange={exchange}")
            assert result.returncode == 0, result.stderr
            result = _ferryd_user(config, "perm", name, "/=none", f"/exchange={rights}")
            assert result.returncode == 0, result.stderr
        shown = _ferryd_user(config, "show", "consumer").stdout
        assert f"shared folders: /exchange={exchange}" in shown
        (server.home("consumer") / "private.txt").write_bytes(b"consumer's own")

        payload = os.urandom(70_000)
        with _login(server.port, "producer") as producer:
            assert producer.storbinary("STOR /exchange/orders.csv",
                                       io.BytesIO(payload)).startswith("226")
            for refused in (
                lambda: producer.storbinary("STOR /exchange/orders.csv", io.BytesIO(b"again")),
                lambda: producer.retrbinary("RETR /exchange/orders.csv", lambda _data: None),
                lambda: producer.delete("/exchange/orders.csv"),
                lambda: producer.nlst("/exchange"),
                lambda: producer.nlst("/"),
                lambda: producer.storbinary("STOR /elsewhere.csv", io.BytesIO(b"x")),
            ):
                with pytest.raises(ftplib.error_perm, match=r"^550"):
                    refused()
        assert (exchange / "orders.csv").read_bytes() == payload
        curl = subprocess.run(  # the README's producer command, in the clear here
            ["curl", "-sS", "--max-time", "30", "-u", "producer:secret", "-T", "-",
             f"ftp://{server.host}:{server.port}/exchange/by-curl.csv"],
            input=b"x,y\n", capture_output=True, timeout=60,
        )
        assert curl.returncode == 0, curl.stderr
        assert (exchange / "by-curl.csv").read_bytes() == b"x,y\n"
        (exchange / "by-curl.csv").unlink()

        async def consume() -> None:
            async with (
                asyncssh.connect(server.host, server.ports["sftp"], username="consumer",
                                 password="secret", known_hosts=None, client_keys=None,
                                 agent_path=None, config=None) as conn,
                conn.start_sftp_client() as sftp,
            ):
                assert sorted(await sftp.listdir("/exchange")) == [".", "..", "orders.csv"]
                async with sftp.open("/exchange/orders.csv", "rb") as handle:
                    assert await handle.read() == payload
                with pytest.raises(asyncssh.SFTPPermissionDenied):
                    await sftp.listdir("/")
                with pytest.raises(asyncssh.SFTPPermissionDenied):
                    await sftp.open("/private.txt", "rb")
                with pytest.raises(asyncssh.SFTPPermissionDenied):
                    await sftp.open("/exchange/forged.csv", "wb")
                await sftp.remove("/exchange/orders.csv")

        asyncio.run(asyncio.wait_for(consume(), 60))
    assert list(exchange.iterdir()) == []
