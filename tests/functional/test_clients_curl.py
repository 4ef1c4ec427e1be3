"""curl against ferryd over plain FTP: EPSV, PASV, EPRT and PORT; transfers with hashes
(0 B, 1 MiB, 64 MiB), LIST/NLST parsed, resume both ways, directory operations, Japanese names.

curl runs with -v so each test also checks that the mode it asked for is the one on the wire.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.functional.client_tools import (
    PASSWORD,
    USER,
    MiB,
    client_binary,
    file_sha256,
    parse_ls_lines,
    run_client,
    write_payload,
)
from tests.functional.conftest import PLAIN_CONFIG
from tests.functional.ferryd_process import RunningFerryd, running_ferryd

# mode -> (curl options, the data-connection command curl must send)
MODES: dict[str, tuple[list[str], str]] = {
    "epsv": ([], "EPSV"),
    "pasv": (["--disable-epsv"], "PASV"),
    "eprt": (["--ftp-port", "127.0.0.1"], "EPRT"),
    "port": (["--ftp-port", "127.0.0.1", "--disable-eprt"], "PORT"),
}
SIZES = [0, MiB, 64 * MiB]

Curl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with running_ferryd(tmp_path_factory.mktemp("curl-ftp"), PLAIN_CONFIG,
                        {USER: PASSWORD}) as running:
        running.home(USER).mkdir(parents=True, exist_ok=True)
        yield running


@pytest.fixture(scope="module")
def payloads(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("curl-payloads")
    return {size: (folder / f"{size}.bin", write_payload(folder / f"{size}.bin", size))
            for size in SIZES}


def url(server: RunningFerryd, path: str = "") -> str:
    return f"ftp://{server.host}:{server.port}/{quote(path)}"


@pytest.fixture
def curl(server: RunningFerryd, tmp_path: Path) -> Curl:
    binary = client_binary("curl")

    def run(mode: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        options, wire = MODES[mode]
        result = run_client(
            [binary, "-q", "-sS", "-v", "--user", f"{USER}:{PASSWORD}",
             "--connect-timeout", "10", "--max-time", "60", *options, *args],
            home=tmp_path / "home", timeout=90, check=check,
        )
        if check:
            assert f"> {wire}" in result.stderr, f"curl did not use {wire}:\n{result.stderr}"
        return result

    return run


@pytest.mark.parametrize("size", SIZES, ids=["0B", "1MiB", "64MiB"])
@pytest.mark.parametrize("mode", MODES)
def test_upload_then_download_keeps_the_bytes(
    curl: Curl, server: RunningFerryd, payloads: dict[int, tuple[Path, str]], tmp_path: Path,
    mode: str, size: int,
) -> None:
    source, digest = payloads[size]
    name = f"curl-{mode}-{size}.bin"
    curl(mode, "-T", str(source), url(server, name))
    stored = server.home(USER) / name
    assert stored.stat().st_size == size
    assert file_sha256(stored) == digest

    target = tmp_path / "back.bin"
    curl(mode, "-o", str(target), url(server, name))
    assert target.stat().st_size == size
    assert file_sha256(target) == digest


@pytest.mark.parametrize("mode", MODES)
def test_list_and_nlst_are_parsed(curl: Curl, server: RunningFerryd, mode: str) -> None:
    folder = server.home(USER) / f"listing-{mode}"
    folder.mkdir()
    expected = {"a.txt": 0, "b c.bin": 1234, "日本語.txt": 77, "sub": None}
    for name, size in expected.items():
        if size is None:
            (folder / name).mkdir()
        else:
            (folder / name).write_bytes(b"x" * size)

    listing = parse_ls_lines(curl(mode, url(server, f"listing-{mode}/")).stdout)
    assert set(listing) == set(expected)
    assert {name: size for name, size in listing.items() if expected[name] is not None} == {
        name: size for name, size in expected.items() if size is not None
    }

    names = curl(mode, "--list-only", url(server, f"listing-{mode}/")).stdout.splitlines()
    assert sorted(names) == sorted(expected)


@pytest.mark.parametrize("mode", MODES)
def test_resume_download_with_continue_at(
    curl: Curl, server: RunningFerryd, payloads: dict[int, tuple[Path, str]], tmp_path: Path,
    mode: str,
) -> None:
    source, digest = payloads[MiB]
    name = f"resume-down-{mode}.bin"
    (server.home(USER) / name).write_bytes(source.read_bytes())
    partial = tmp_path / "partial.bin"
    offset = 300_001
    partial.write_bytes(source.read_bytes()[:offset])

    result = curl(mode, "-C", "-", "-o", str(partial), url(server, name))
    assert f"> REST {offset}" in result.stderr
    assert file_sha256(partial) == digest


@pytest.mark.parametrize("mode", MODES)
def test_resume_upload_with_continue_at(
    curl: Curl, server: RunningFerryd, payloads: dict[int, tuple[Path, str]], mode: str,
) -> None:
    source, digest = payloads[MiB]
    name = f"resume-up-{mode}.bin"
    stored = server.home(USER) / name
    stored.write_bytes(source.read_bytes()[:500_000])

    result = curl(mode, "-C", "-", "-T", str(source), url(server, name))
    assert f"> SIZE {name}" in result.stderr
    assert f"> APPE {name}" in result.stderr
    assert file_sha256(stored) == digest


def test_directory_operations(
    curl: Curl, server: RunningFerryd, payloads: dict[int, tuple[Path, str]],
) -> None:
    home = server.home(USER)
    source, digest = payloads[MiB]
    # --ftp-create-dirs: MKD for each missing folder, then STOR
    curl("epsv", "--ftp-create-dirs", "-T", str(source), url(server, "ops/deep/er/file.bin"))
    assert file_sha256(home / "ops/deep/er/file.bin") == digest

    # quote commands: rename a file out of the tree, delete a file, remove the emptied folders
    (home / "ops/deep/doomed.txt").write_text("bye")
    curl("epsv", "--list-only",
         "-Q", "RNFR ops/deep/er/file.bin", "-Q", "RNTO ops/moved.bin",
         "-Q", "DELE ops/deep/doomed.txt", "-Q", "RMD ops/deep/er", "-Q", "RMD ops/deep",
         "-Q", "MKD ops/fresh", url(server, "ops/"))
    assert sorted(p.name for p in (home / "ops").iterdir()) == ["fresh", "moved.bin"]
    assert file_sha256(home / "ops/moved.bin") == digest

    # a refused operation is an error reply, and curl reports it
    result = curl("epsv", "--list-only", "-Q", "RMD ops/does-not-exist", url(server, "ops/"),
                  check=False)
    assert result.returncode != 0
    assert "< 550" in result.stderr


@pytest.mark.parametrize("mode", ["epsv", "port"])
def test_japanese_names(
    curl: Curl, server: RunningFerryd, payloads: dict[int, tuple[Path, str]], tmp_path: Path,
    mode: str,
) -> None:
    source, digest = payloads[MiB]
    folder, name = f"日本語フォルダ-{mode}", "ファイル 名前.bin"
    curl(mode, "--ftp-create-dirs", "-T", str(source), url(server, f"{folder}/{name}"))
    assert file_sha256(server.home(USER) / folder / name) == digest

    listing = parse_ls_lines(curl(mode, url(server, f"{folder}/")).stdout)
    assert listing == {name: MiB}
    target = tmp_path / "back.bin"
    curl(mode, "-o", str(target), url(server, f"{folder}/{name}"))
    assert file_sha256(target) == digest
