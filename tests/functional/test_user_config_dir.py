"""user_config_dir: a file per user whose options apply to that user's sessions after login."""

from __future__ import annotations

import ftplib
import io
import re
from pathlib import Path

import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.ferryd_process import PLAIN_CONFIG, RunningFerryd

TIMEOUT = 30.0


def log_in(server: RunningFerryd, name: str, password: str) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(server.host, server.port, timeout=TIMEOUT)
    try:
        client.login(name, password)
    except BaseException:
        client.close()
        raise
    return client


def test_per_user_options_apply_after_login(start_ferryd: StartFerryd, tmp_path: Path) -> None:
    folder = tmp_path / "users.d"
    folder.mkdir()
    (folder / "reader").write_text("# reader may only look\nwrite_enable=NO\n"
                                   "local_umask=077\nlisten_port=2121\n")
    (folder / "broken").write_text("write_enable=NO\nwrite_enabel=YES\n")
    users = {"reader": "r-pass", "writer": "w-pass", "broken": "b-pass"}
    with start_ferryd(PLAIN_CONFIG + f"user_config_dir={folder}\n", users=users) as server:
        reader = log_in(server, "reader", "r-pass")
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            reader.storbinary("STOR refused.txt", io.BytesIO(b"x"))
        reader.quit()
        writer = log_in(server, "writer", "w-pass")  # no file: the main configuration
        assert writer.storbinary("STOR kept.txt", io.BytesIO(b"kept")).startswith("226")
        writer.quit()
        with pytest.raises(ftplib.error_perm, match="530"):
            log_in(server, "broken", "b-pass")  # an unknown option: refused, and logged
        assert server.wait_for_line(
            re.compile(re.escape(f"{folder / 'broken'}") + r":2: .*write_enabel"), TIMEOUT
        )
        assert server.wait_for_line(re.compile("listen_port cannot differ per user"), TIMEOUT)
    assert (server.home("writer") / "kept.txt").read_bytes() == b"kept"
    assert not (server.home("reader") / "refused.txt").exists()
