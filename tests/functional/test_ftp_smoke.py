"""The shortest path through the product: log in, upload, download, list, over ftplib."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os

from tests.functional.ferryd_process import RunningFerryd


def test_upload_download_list_with_ftplib(plain_server: RunningFerryd) -> None:
    payload = os.urandom(1_000_003)
    with ftplib.FTP() as client:
        client.connect(plain_server.host, plain_server.port, timeout=30)
        assert client.login("alice", "wonderland").startswith("230")
        assert client.storbinary("STOR a.bin", io.BytesIO(payload)).startswith("226")
        received = io.BytesIO()
        client.retrbinary("RETR a.bin", received.write)
        names = client.nlst()
    assert hashlib.sha256(received.getvalue()).digest() == hashlib.sha256(payload).digest()
    assert (plain_server.home("alice") / "a.bin").read_bytes() == payload
    assert names == ["a.bin"]


def test_wrong_password_is_530(plain_server: RunningFerryd) -> None:
    with ftplib.FTP() as client:
        client.connect(plain_server.host, plain_server.port, timeout=30)
        try:
            client.login("alice", "not-the-password")
        except ftplib.error_perm as exc:
            assert str(exc).startswith("530")
        else:
            raise AssertionError("a wrong password logged in")
