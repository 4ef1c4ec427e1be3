"""SIGHUP: the configuration is read again for new sessions; running ones keep theirs; a
configuration that does not load keeps the running one and the log says why."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import re
import signal
import threading

import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.ferryd_process import PLAIN_CONFIG, RunningFerryd

TIMEOUT = 30.0


def log_in(server: RunningFerryd) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(server.host, server.port, timeout=TIMEOUT)
    client.login("alice", "wonderland")
    return client


def hang_up_and_wait(server: RunningFerryd, pattern: str) -> None:
    seen = len(server.stderr_lines)
    server.process.send_signal(signal.SIGHUP)
    wanted = re.compile(pattern)
    assert server.wait_for_line(wanted, TIMEOUT), server.read_stderr()
    assert any(wanted.search(line) for line in server.stderr_lines[seen:])


def test_sighup_applies_a_new_configuration_to_new_sessions(start_ferryd: StartFerryd) -> None:
    with start_ferryd(PLAIN_CONFIG.replace("write_enable=YES", "write_enable=NO")) as server:
        before = log_in(server)
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            before.storbinary("STOR early.txt", io.BytesIO(b"x"))
        text = server.config_path.read_text()
        server.config_path.write_text(text.replace("write_enable=NO", "write_enable=YES"))
        hang_up_and_wait(server, r"SIGHUP: configuration, users and certificate reloaded")

        after = log_in(server)
        assert after.storbinary("STOR later.txt", io.BytesIO(b"new rules")).startswith("226")
        after.quit()
        assert before.sendcmd("NOOP").startswith("200")  # the running session is not dropped
        with pytest.raises(ftplib.error_perm, match=r"^550"):  # and keeps its rules
            before.storbinary("STOR early.txt", io.BytesIO(b"x"))
        before.quit()

        server.config_path.write_text(text.replace("write_enable=NO", "write_enabel=YES"))
        hang_up_and_wait(server, r"SIGHUP: keeping the running configuration: .*ferryd\.conf:"
                                 r"\d+: .*write_enabel")
        still = log_in(server)  # the last good configuration goes on serving
        assert still.storbinary("STOR still.txt", io.BytesIO(b"ok")).startswith("226")
        still.quit()

        server.config_path.write_text(
            text.replace("write_enable=NO", "write_enable=YES").replace(
                "listen_port=0", "listen_port=1")
        )
        hang_up_and_wait(server, r"take effect after a restart: listen_port")
        log_in(server).quit()  # still listening where it was
    home = server.home("alice")
    assert (home / "later.txt").read_bytes() == b"new rules"
    assert (home / "still.txt").read_bytes() == b"ok"
    assert not (home / "early.txt").exists()


def test_sigterm_lets_running_transfers_finish_and_ends_quietly(
    start_ferryd: StartFerryd,
) -> None:
    """SIGTERM: no new connections; a download under way completes (within shutdown_grace);
    idle and half-opened sessions are closed; the process exits 0 with no traceback."""
    payload = os.urandom(2 * 1024 * 1024)
    config = PLAIN_CONFIG + "local_max_rate=1048576\nshutdown_grace=60\n"
    with start_ferryd(config) as server:
        (server.home("alice") / "big.bin").write_bytes(payload)
        idle = log_in(server)
        waiting = log_in(server)
        waiting.sendcmd("PASV")  # a data connection it will never open
        downloading = log_in(server)
        received: list[bytes] = []
        first_bytes = threading.Event()

        def take(block: bytes) -> None:
            received.append(block)
            first_bytes.set()

        outcome: list[str] = []
        reader = threading.Thread(
            target=lambda: outcome.append(downloading.retrbinary("RETR big.bin", take))
        )
        reader.start()
        assert first_bytes.wait(TIMEOUT)
        server.process.send_signal(signal.SIGTERM)
        reader.join(TIMEOUT)
        assert outcome and outcome[0].startswith("226")
        assert hashlib.sha256(b"".join(received)).digest() == hashlib.sha256(payload).digest()
        assert server.process.wait(TIMEOUT) == 0
        for client in (idle, waiting, downloading):
            client.close()
    log = "".join(server.stderr_lines)
    assert "Traceback" not in log and "Exception in callback" not in log, log


def test_sighup_with_a_missing_user_list_keeps_the_running_configuration(
    start_ferryd: StartFerryd,
) -> None:
    with start_ferryd() as server:
        text = server.config_path.read_text()
        missing = server.config_path.parent / "no-such-user-list"
        server.config_path.write_text(
            text + f"userlist_enable=YES\nuserlist_deny=NO\nuserlist_file={missing}\n")
        hang_up_and_wait(server, r"SIGHUP: keeping the running configuration: "
                                 rf"userlist_file={re.escape(str(missing))}: cannot read it")
        client = log_in(server)  # the user list was never applied: alice still gets in
        assert client.sendcmd("PWD").startswith("257")
        client.quit()
        missing.write_text("alice\n")  # now readable: only alice may log in
        hang_up_and_wait(server, r"SIGHUP: configuration, users and certificate reloaded")
        log_in(server).quit()
