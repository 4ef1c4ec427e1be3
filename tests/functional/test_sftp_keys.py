"""Keys and the SSH handshake: authorized_keys options on stored keys (from= honoured, options
ferryd cannot honour refused at key-add), weak keys and SHA-1 signatures refused, a host key
the client does not expect, and a client that stalls before logging in (login grace time)."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.ssh_clients import (
    PASSWORD,
    TIMEOUT,
    USER,
    OpenSsh,
    make_key,
    sftp_server,
    sftp_session,
)

GRACE_SECONDS = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    extra = f"sftp_login_grace_time={GRACE_SECONDS}\n"
    with sftp_server(tmp_path_factory.mktemp("keys"), extra) as running:
        (running.home(USER) / "hello.txt").write_text("hello\n")
        yield running


def key_add(server: RunningFerryd, user: str, lines: str) -> subprocess.CompletedProcess[str]:
    """`ferryd user key-add NAME -` with authorized_keys lines on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "ferryd.cli", "user", "key-add", user, "-",
         "--config", str(server.config_path)],
        input=lines, capture_output=True, text=True, timeout=TIMEOUT,
        env={**os.environ, "FERRYD_HOME": str(server.data_dir)},
    )


def public_line(key: Path) -> str:
    return key.with_suffix(".pub").read_text().strip()


def run(scenario: Any) -> Any:
    return asyncio.run(asyncio.wait_for(scenario, TIMEOUT))


async def asyncssh_listing(server: RunningFerryd, **options: Any) -> list[str]:
    async with sftp_session(server, **{"password": None, **options}) as sftp:
        return list(await sftp.listdir("."))


def test_from_is_honoured_and_restrictive_options_are_accepted(
    server: RunningFerryd, tmp_path: Path,
) -> None:
    here, elsewhere = make_key(tmp_path, "here"), make_key(tmp_path, "elsewhere")
    lines = (f'from="127.0.0.0/8,!127.0.0.2",restrict,no-pty,no-port-forwarding,'
             f"no-agent-forwarding,no-X11-forwarding {public_line(here)}\n"
             f'from="10.0.0.0/8,192.0.2.*" {public_line(elsewhere)}\n')
    added = key_add(server, USER, lines)
    assert added.returncode == 0, added.stderr
    assert added.stdout.count(f"added to user {USER}") == 2
    shown = subprocess.run(
        [sys.executable, "-m", "ferryd.cli", "user", "show", USER,
         "--config", str(server.config_path)],
        capture_output=True, text=True, timeout=TIMEOUT,
        env={**os.environ, "FERRYD_HOME": str(server.data_dir)},
    )
    assert shown.returncode == 0, shown.stderr
    assert ('[from="127.0.0.0/8,!127.0.0.2",restrict,no-pty,no-port-forwarding,'
            'no-agent-forwarding,no-x11-forwarding]') in shown.stdout, shown.stdout
    assert ' [from="10.0.0.0/8,192.0.2.*"]' in shown.stdout

    allowed = OpenSsh(server, tmp_path, password=None, key=here).sftp("get hello.txt")
    assert allowed.returncode == 0, allowed.stderr
    assert (tmp_path / "hello.txt").read_text() == "hello\n"
    refused = OpenSsh(server, tmp_path, password=None, key=elsewhere).sftp("ls")
    assert refused.returncode != 0 and "Permission denied" in refused.stderr
    # the restrictions hold: no shell or command whatever the key (file transfer only)
    shell = OpenSsh(server, tmp_path, password=None, key=here).ssh("id")
    assert shell.returncode != 0 and "uid=" not in shell.stdout


def test_options_ferryd_cannot_honour_are_refused_at_key_add(
    server: RunningFerryd, tmp_path: Path,
) -> None:
    key = public_line(make_key(tmp_path, "forced"))
    for options, reason in (
        ('command="internal-sftp"', "option command= is not supported"),
        ('environment="PATH=/tmp"', "option environment= is not supported"),
        ('permitopen="127.0.0.1:22"', "option permitopen= is not supported"),
        ("cert-authority", "option cert-authority is not supported"),
        ("pty", "option pty is not supported"),
    ):
        refused = key_add(server, USER, f"{options} {key}\n")
        assert refused.returncode == 2, (options, refused.stdout, refused.stderr)
        assert f"stdin:1: {reason}" in refused.stderr, refused.stderr
    by_key = OpenSsh(server, tmp_path, password=None, key=tmp_path / "forced").sftp("ls")
    assert by_key.returncode != 0  # nothing was stored


def test_weak_keys_are_refused_at_key_add_and_at_login(
    server: RunningFerryd, tmp_path: Path,
) -> None:
    dsa = asyncssh.generate_private_key("ssh-dss")
    small_rsa = asyncssh.generate_private_key("ssh-rsa", key_size=1024)
    for key, reason in ((dsa, "ssh-dss (DSA) keys are too weak"),
                        (small_rsa, "a 1024-bit RSA key is too weak")):
        refused = key_add(server, USER, key.export_public_key().decode())
        assert refused.returncode == 2 and reason in refused.stderr, refused.stderr
    # a database written before the rule (or by hand) may hold them: never trusted at login
    with sqlite3.connect(server.data_dir / "users.sqlite3") as database:
        (user_id,) = database.execute("SELECT id FROM users WHERE name = ?", (USER,)).fetchone()
        for key in (dsa, small_rsa):
            database.execute(
                "INSERT INTO user_public_keys (user_id, key_line, fingerprint) VALUES (?, ?, ?)",
                (user_id, key.export_public_key().decode().strip(), key.get_fingerprint()))
    database.close()

    async def scenario() -> None:
        for key in (dsa, small_rsa):
            with pytest.raises(asyncssh.PermissionDenied):
                await asyncssh_listing(server, client_keys=[key],
                                       signature_algs=["ssh-dss", "rsa-sha2-256"])

    run(scenario())


def test_rsa_keys_sign_with_sha2_and_sha1_signatures_are_refused(
    server: RunningFerryd, tmp_path: Path,
) -> None:
    rsa = asyncssh.generate_private_key("ssh-rsa", key_size=2048)
    added = key_add(server, USER, rsa.export_public_key().decode())
    assert added.returncode == 0, added.stderr

    async def scenario() -> list[str]:
        with pytest.raises(asyncssh.PermissionDenied):
            await asyncssh_listing(server, client_keys=[rsa], signature_algs=["ssh-rsa"])
        return await asyncssh_listing(server, client_keys=[rsa],
                                      signature_algs=["rsa-sha2-256"])

    assert "hello.txt" in run(scenario())


def test_a_host_key_the_client_does_not_expect_fails_cleanly(
    server: RunningFerryd, tmp_path: Path,
) -> None:
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    port = server.ports["sftp"]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_bytes(f"[{server.host}]:{port} ".encode() + impostor.export_public_key())
    client = OpenSsh(server, tmp_path)
    argv = ["sftp", "-F", "/dev/null", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "HostKeyAlgorithms=ssh-ed25519", "-o", "BatchMode=yes",
            "-o", "PubkeyAuthentication=no", "-P", str(port), f"{USER}@{server.host}"]
    refused = client.run(argv)
    assert refused.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in refused.stderr, refused.stderr
    assert "Host key verification failed" in refused.stderr

    async def scenario() -> list[str]:
        with pytest.raises(asyncssh.HostKeyNotVerifiable):
            await asyncssh_listing(server, password=PASSWORD,
                                   known_hosts=([impostor.convert_to_public()], [], []))
        return await asyncssh_listing(server, password=PASSWORD)  # the server goes on

    assert "hello.txt" in run(scenario())


def _closed_by_server(sock: socket.socket) -> bool:
    """Read until the server closes (b""), at most 64 KiB; False if it never does."""
    received = 0
    try:
        while chunk := sock.recv(4096):
            received += len(chunk)
            if received > 1 << 16:
                return False
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_clients_stalled_before_login_are_cut_at_the_grace_time_while_others_are_served(
    server: RunningFerryd, tmp_path: Path,
) -> None:
    address = (server.host, server.ports["sftp"])
    with socket.create_connection(address, timeout=TIMEOUT) as silent, \
            socket.create_connection(address, timeout=TIMEOUT) as after_version:
        after_version.sendall(b"SSH-2.0-stalling_client\r\n")  # then never a key exchange
        # meanwhile another client logs in and transfers
        client = OpenSsh(server, tmp_path)
        served = client.sftp("get hello.txt served.txt")
        assert served.returncode == 0, served.stderr
        assert (tmp_path / "served.txt").read_text() == "hello\n"
        assert _closed_by_server(silent)
        assert _closed_by_server(after_version)


@pytest.mark.parametrize(("option", "refusal"), [
    ("KexAlgorithms=diffie-hellman-group14-sha1", "no matching key exchange method"),
    ("MACs=hmac-sha1", "no matching MAC"),
])
def test_a_client_offering_only_weak_algorithms_is_refused(
    server: RunningFerryd, tmp_path: Path, option: str, refusal: str,
) -> None:
    """SHA-1 key exchange and MACs: asyncssh has them, ferryd does not offer them."""
    client = OpenSsh(server, tmp_path)
    argv = ["sftp", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", option,
            "-o", "Ciphers=aes128-ctr", "-P", str(server.ports["sftp"]),
            f"{USER}@{server.host}"]
    refused = client.run(argv)
    assert refused.returncode == 255
    assert refusal in refused.stderr, refused.stderr
