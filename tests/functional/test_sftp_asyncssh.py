"""asyncssh's SFTP client against ferryd: the extensions, attributes, keys and host keys."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import wait_until
from tests.functional.ssh_clients import (
    PASSWORD,
    SFTP_CONFIG,
    USER,
    add_key,
    log_text,
    sftp_server,
    sha256,
)

TIMEOUT = 30.0
_T = TypeVar("_T")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with sftp_server(tmp_path_factory.mktemp("sftp")) as running:
        yield running


def run(scenario: Callable[[], Awaitable[_T]]) -> _T:
    async def bounded() -> _T:
        return await asyncio.wait_for(scenario(), TIMEOUT)

    return asyncio.run(bounded())


@asynccontextmanager
async def connected(server: RunningFerryd, **options: Any) -> AsyncIterator[
        asyncssh.SSHClientConnection]:
    settings: dict[str, Any] = {
        "username": USER, "password": PASSWORD, "known_hosts": None, "client_keys": None,
        "agent_path": None, "config": None,
    }
    settings.update(options)
    conn = await asyncssh.connect(server.host, server.ports["sftp"], **settings)
    try:
        yield conn
    finally:
        conn.close()
        await conn.wait_closed()


def test_files_folders_attributes_and_extensions(server: RunningFerryd, tmp_path: Path) -> None:
    home = server.home(USER)
    payload = os.urandom((16 << 20) + 3)
    (tmp_path / "big.bin").write_bytes(payload)
    (home / "linked-target.txt").write_text("target\n")
    os.symlink("linked-target.txt", home / "relative-link")

    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with connected(server) as conn, conn.start_sftp_client() as sftp:
            seen["cwd"] = await sftp.realpath(".")
            await sftp.mkdir("box")
            await sftp.put(str(tmp_path / "big.bin"), "box/big.bin")
            await sftp.get("box/big.bin", str(tmp_path / "back.bin"))
            seen["size"] = (await sftp.stat("box/big.bin")).size
            await sftp.chmod("box/big.bin", 0o640)
            await sftp.utime("box/big.bin", (1_500_000_000, 1_500_000_000))
            attrs = await sftp.stat("box/big.bin")
            seen["mode"], seen["mtime"] = attrs.permissions & 0o777, attrs.mtime
            seen["names"] = sorted(await sftp.listdir("box"))
            await sftp.copy("box/big.bin", "box/copy.bin")  # copy-data, server side
            await sftp.rename("box/copy.bin", "box/renamed.bin")
            await sftp.posix_rename("box/renamed.bin", "box/big.bin")
            seen["after_rename"] = sorted(await sftp.listdir("box"))
            seen["readlink"] = await sftp.readlink("relative-link")
            seen["vfs"] = await sftp.statvfs("/")
            async with sftp.open("box/synced.txt", "wb") as handle:
                await handle.write(b"durable")
                await handle.fsync()
            for refused in (sftp.link("box/big.bin", "box/hard"),
                            sftp.symlink("/etc", "box/soft")):
                with pytest.raises(asyncssh.SFTPOpUnsupported):
                    await refused
            with pytest.raises(asyncssh.SFTPFailure):  # v3: "already exists" is FX_FAILURE
                await sftp.rename("box/synced.txt", "box/big.bin")
            await sftp.remove("box/synced.txt")
            await sftp.remove("box/big.bin")
            await sftp.rmdir("box")
            seen["exists"] = await sftp.exists("box")
        return seen

    seen = run(scenario)
    assert seen["cwd"] == "/"
    assert seen["size"] == len(payload)
    assert sha256((tmp_path / "back.bin").read_bytes()) == sha256(payload)
    assert (seen["mode"], seen["mtime"]) == (0o640, 1_500_000_000)
    assert seen["names"] == [".", "..", "big.bin"]
    assert seen["after_rename"] == [".", "..", "big.bin"]
    assert seen["readlink"] == "linked-target.txt"
    assert seen["vfs"].bsize > 0 and seen["vfs"].namemax > 0
    assert seen["exists"] is False
    assert not (home / "box").exists()


def test_empty_and_64_mib_files_keep_every_byte(server: RunningFerryd, tmp_path: Path) -> None:
    payloads = {"empty.bin": b"", "big.bin": os.urandom((64 << 20) + 3)}
    for name, payload in payloads.items():
        (tmp_path / name).write_bytes(payload)

    async def scenario() -> None:
        async with connected(server) as conn, conn.start_sftp_client() as sftp:
            for name in payloads:
                await sftp.put(str(tmp_path / name), f"a-{name}")
                await sftp.get(f"a-{name}", str(tmp_path / f"back-{name}"))

    run(scenario)
    for name, payload in payloads.items():
        assert sha256((server.home(USER) / f"a-{name}").read_bytes()) == sha256(payload)
        assert sha256((tmp_path / f"back-{name}").read_bytes()) == sha256(payload)


def test_key_login_wrong_password_and_wrong_key(server: RunningFerryd, tmp_path: Path) -> None:
    known = asyncssh.generate_private_key("ssh-ed25519")
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    public = tmp_path / "known.pub"
    public.write_bytes(known.export_public_key())
    add_key(server, USER, public)

    async def scenario() -> list[str]:
        async with connected(server, password=None, client_keys=[known]) as conn, \
                conn.start_sftp_client() as sftp:
            listing = await sftp.listdir(".")
        for options in ({"password": "wrong"}, {"password": None, "client_keys": [stranger]}):
            with pytest.raises(asyncssh.PermissionDenied):
                async with connected(server, **options):
                    pass
        return listing

    assert "." in run(scenario)
    assert wait_until(lambda: f'[{USER}] [sftp] OK LOGIN: Client "127.0.0.1", "publickey"'
                      in log_text(server, "vsftpd.log"))


def test_an_upload_cut_off_is_logged_incomplete(server: RunningFerryd) -> None:
    async def scenario() -> None:
        async with connected(server) as conn:
            sftp = await conn.start_sftp_client()
            handle = await sftp.open("cut.bin", "wb")
            await handle.write(b"x" * 100_000)
            conn.abort()  # no CLOSE: the connection just goes
            sftp.exit()

    run(scenario)
    assert wait_until(lambda: '[sftp] FAIL UPLOAD: Client "127.0.0.1", "/cut.bin", 100000 bytes'
                      in log_text(server, "vsftpd.log"))


def test_host_keys_are_made_on_first_start_and_their_fingerprints_printed(
    start_ferryd: StartFerryd,
) -> None:
    with start_ferryd(SFTP_CONFIG, want=("ftp", "sftp")) as server:
        output = server.read_stderr()
        printed = dict(re.findall(r"SSH host key (\S+) fingerprint (SHA256:\S+)", output))
        assert set(printed) == {"ssh-ed25519", "ssh-rsa"}, output
        for name in ("ssh_host_ed25519_key", "ssh_host_rsa_key"):
            key_file = server.data_dir / "ssh" / name
            assert key_file.stat().st_mode & 0o777 == 0o600
            assert (server.data_dir / "ssh" / f"{name}.pub").exists()

        async def scenario() -> dict[str, str]:
            seen = {}
            for algorithm in ("ssh-ed25519", "rsa-sha2-256"):
                async with connected(server, server_host_key_algs=[algorithm]) as conn:
                    key = conn.get_server_host_key()
                    assert key is not None
                    seen[key.get_algorithm()] = key.get_fingerprint("sha256")
            return seen

        assert run(scenario) == printed
