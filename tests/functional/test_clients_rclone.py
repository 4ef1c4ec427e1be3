"""rclone's FTP backend against ferryd over plain FTP: EPSV and PASV (rclone has no active
mode); transfers with hashes (0 B, 1 MiB, 64 MiB), listings from MLSD and from LIST, ranged
reads (REST), directory operations, Japanese names.

The remote is made from RCLONE_CONFIG_FERRY_* variables with an `rclone obscure`d password;
`--dump headers` logs the FTP commands, so each test also checks the mode on the wire.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.functional.client_tools import (
    PASSWORD,
    RCLONE_FLAGS,
    USER,
    MiB,
    client_binary,
    file_sha256,
    rclone_env,
    rclone_obscure,
    rclone_sent,
    run_client,
    write_payload,
)
from tests.functional.conftest import PLAIN_CONFIG
from tests.functional.ferryd_process import RunningFerryd, running_ferryd

# mode -> (rclone flags, the data-connection command rclone must send)
MODES: dict[str, tuple[list[str], str]] = {
    "epsv": ([], "EPSV"),
    "pasv": (["--ftp-disable-epsv"], "PASV"),
}
SIZES = [0, MiB, 64 * MiB]

Rclone = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with running_ferryd(tmp_path_factory.mktemp("rclone-ftp"), PLAIN_CONFIG,
                        {USER: PASSWORD}) as running:
        running.home(USER).mkdir(parents=True, exist_ok=True)
        yield running


@pytest.fixture(scope="module")
def payloads(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("rclone-payloads")
    return {size: (folder / f"{size}.bin", write_payload(folder / f"{size}.bin", size))
            for size in SIZES}


@pytest.fixture
def rclone(server: RunningFerryd, tmp_path: Path) -> Rclone:
    binary = client_binary("rclone")
    home = tmp_path / "home"
    env = rclone_env(home, server.host, server.port, rclone_obscure(binary, home))

    def run(mode: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        options, wire = MODES[mode]
        result = run_client([binary, *RCLONE_FLAGS, *options, *args], home=home, env=env,
                            timeout=90, check=check)
        if check:
            sent = rclone_sent(result.stderr)
            assert wire in sent, f"rclone did not use {wire}: {sent}"
        return result

    return run


def lsjson(rclone: Rclone, mode: str, path: str, *flags: str) -> dict[str, dict[str, object]]:
    entries = json.loads(rclone(mode, "lsjson", *flags, f"ferry:{path}").stdout)
    return {entry["Name"]: entry for entry in entries}


@pytest.mark.parametrize("size", SIZES, ids=["0B", "1MiB", "64MiB"])
@pytest.mark.parametrize("mode", MODES)
def test_copyto_both_ways_keeps_the_bytes(
    rclone: Rclone, server: RunningFerryd, payloads: dict[int, tuple[Path, str]], tmp_path: Path,
    mode: str, size: int,
) -> None:
    source, digest = payloads[size]
    name = f"rclone-{mode}-{size}.bin"
    rclone(mode, "copyto", str(source), f"ferry:{name}")
    stored = server.home(USER) / name
    assert stored.stat().st_size == size
    assert file_sha256(stored) == digest

    target = tmp_path / "back.bin"
    rclone(mode, "copyto", f"ferry:{name}", str(target))
    assert file_sha256(target) == digest


@pytest.mark.parametrize("mode", MODES)
def test_listings_from_mlsd_and_list(rclone: Rclone, server: RunningFerryd, mode: str) -> None:
    folder = server.home(USER) / f"listing-{mode}"
    folder.mkdir()
    expected = {"a.txt": 0, "b c.bin": 1234, "日本語.txt": 77}
    for name, size in expected.items():
        (folder / name).write_bytes(b"x" * size)
    (folder / "sub").mkdir()

    for flags in ([], ["--ftp-disable-mlsd"]):
        entries = lsjson(rclone, mode, f"listing-{mode}", *flags)
        assert set(entries) == {*expected, "sub"}, flags
        assert entries["sub"]["IsDir"] is True
        assert {name: entries[name]["Size"] for name in expected} == expected, flags


@pytest.mark.parametrize("mode", MODES)
def test_ranged_read_uses_rest(rclone: Rclone, server: RunningFerryd, mode: str) -> None:
    """rclone resumes nothing itself; `cat --offset` is its restarted download (REST n)."""
    text = "".join(f"line {number:07d} of a text file\n" for number in range(40_000))
    (server.home(USER) / f"ranged-{mode}.txt").write_text(text)
    result = rclone(mode, "cat", "--offset", "700001", f"ferry:ranged-{mode}.txt")
    assert "REST 700001" in rclone_sent(result.stderr)
    assert result.stdout == text[700_001:]
    result = rclone(mode, "cat", "--offset", "1000", "--count", "64", f"ferry:ranged-{mode}.txt")
    assert result.stdout == text[1000:1064]


def test_directory_operations(
    rclone: Rclone, server: RunningFerryd, payloads: dict[int, tuple[Path, str]],
) -> None:
    source, digest = payloads[MiB]
    home = server.home(USER)
    rclone("epsv", "mkdir", "ferry:ops/deep/er")
    assert (home / "ops/deep/er").is_dir()
    rclone("epsv", "copyto", str(source), "ferry:ops/deep/er/file.bin")
    rclone("epsv", "moveto", "ferry:ops/deep/er/file.bin", "ferry:ops/moved.bin")
    (home / "ops/doomed.txt").write_text("bye")
    rclone("epsv", "deletefile", "ferry:ops/doomed.txt")
    rclone("epsv", "rmdirs", "ferry:ops/deep")
    rclone("epsv", "mkdir", "ferry:ops/fresh")
    assert sorted(p.name for p in (home / "ops").iterdir()) == ["fresh", "moved.bin"]
    assert file_sha256(home / "ops/moved.bin") == digest
    assert set(lsjson(rclone, "epsv", "ops")) == {"fresh", "moved.bin"}


@pytest.mark.parametrize("mode", MODES)
def test_japanese_names(
    rclone: Rclone, server: RunningFerryd, payloads: dict[int, tuple[Path, str]], tmp_path: Path,
    mode: str,
) -> None:
    source, digest = payloads[MiB]
    folder, name = f"日本語フォルダ-{mode}", "ファイル 名前.bin"
    rclone(mode, "copyto", str(source), f"ferry:{folder}/{name}")
    assert file_sha256(server.home(USER) / folder / name) == digest
    entries = lsjson(rclone, mode, folder)
    assert {entry: value["Size"] for entry, value in entries.items()} == {name: MiB}
    target = tmp_path / "戻り.bin"
    rclone(mode, "copyto", f"ferry:{folder}/{name}", str(target))
    assert file_sha256(target) == digest
