"""The seed's single passive port (pasv_min_port=pasv_max_port) serves concurrent sessions."""

from __future__ import annotations

import ftplib
import io
import os
import threading
from pathlib import Path

from tests.functional.conftest import PLAIN_CONFIG, StartFerryd
from tests.functional.ferryd_process import free_port

SESSIONS = 8


def _single_port_config(port: int) -> str:
    return PLAIN_CONFIG.replace(
        "pasv_min_port=0\npasv_max_port=0\n", f"pasv_min_port={port}\npasv_max_port={port}\n"
    ) + "accept_timeout=20\n"


def test_concurrent_sessions_share_one_passive_port(
    start_ferryd: StartFerryd, tmp_path: Path
) -> None:
    port = free_port()
    payloads = {f"f{index}.bin": os.urandom(200_000 + index) for index in range(SESSIONS)}
    errors: list[BaseException] = []
    announced: set[int] = set()
    barrier = threading.Barrier(SESSIONS, timeout=30)

    def session(server_port: int, name: str, source: str) -> None:
        try:
            with ftplib.FTP() as client:
                # several client addresses (127.0.0.1-4), two sessions from each
                client.connect("127.0.0.1", server_port, timeout=30, source_address=(source, 0))
                client.login("alice", "wonderland")
                barrier.wait()  # all sessions transfer at the same time
                client.storbinary(f"STOR {name}", io.BytesIO(payloads[name]))
                received = io.BytesIO()
                client.retrbinary(f"RETR {name}", received.write)
                assert received.getvalue() == payloads[name]
                announced.add(ftplib.parse227(client.sendcmd("PASV"))[1])
        except BaseException as exc:
            errors.append(exc)

    with start_ferryd(_single_port_config(port)) as server:
        threads = [
            threading.Thread(target=session, args=(server.port, name, f"127.0.0.{index % 4 + 1}"))
            for index, name in enumerate(payloads)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        assert announced == {port}
        for name, payload in payloads.items():
            assert (server.home("alice") / name).read_bytes() == payload
