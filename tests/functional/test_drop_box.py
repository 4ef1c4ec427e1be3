"""The seed's use case: a producer may only deposit, a consumer picks up and deletes."""

from __future__ import annotations

import ftplib
import io
import os
import subprocess
import sys

import pytest

from tests.functional.conftest import PLAIN_CONFIG, StartFerryd


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
