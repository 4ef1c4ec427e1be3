"""lftp against ferryd over plain FTP: EPSV, PASV and PORT (lftp sends EPRT only over IPv6);
transfers with hashes (0 B, 1 MiB, 64 MiB), LIST and MLSD listings, `get -c` / `put -c`,
directory operations, Japanese names.

lftp runs with `debug 5` so each test also checks the commands on the wire.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

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

# mode -> (lftp settings, the data-connection command lftp must send)
MODES: dict[str, tuple[str, str]] = {
    "epsv": ("set ftp:passive-mode on; set ftp:prefer-epsv yes", "EPSV"),
    "pasv": ("set ftp:passive-mode on; set ftp:prefer-epsv no", "PASV"),
    "port": ("set ftp:passive-mode off", "PORT"),
}
SIZES = [0, MiB, 64 * MiB]
COMMON = ("set cmd:fail-exit yes; set net:max-retries 1; set net:reconnect-interval-base 1; "
          "set net:timeout 15; set xfer:clobber on; set cmd:interactive no; debug 5")

Lftp = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningFerryd]:
    with running_ferryd(tmp_path_factory.mktemp("lftp-ftp"), PLAIN_CONFIG,
                        {USER: PASSWORD}) as running:
        running.home(USER).mkdir(parents=True, exist_ok=True)
        yield running


@pytest.fixture(scope="module")
def payloads(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("lftp-payloads")
    return {size: (folder / f"{size}.bin", write_payload(folder / f"{size}.bin", size))
            for size in SIZES}


@pytest.fixture
def lftp(server: RunningFerryd, tmp_path: Path) -> Lftp:
    binary = client_binary("lftp")

    def run(mode: str, commands: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        settings, wire = MODES[mode]
        script = (f"{COMMON}; {settings}; "
                  f"open -u {USER},{PASSWORD} ftp://{server.host}:{server.port}; {commands}")
        result = run_client([binary, "-c", script], home=tmp_path / "home", timeout=90,
                            check=check, cwd=tmp_path)
        if check:
            assert f"---> {wire}" in result.stderr, f"lftp did not use {wire}:\n{result.stderr}"
            # lftp retries a broken transfer from where it stopped (REST): a 426 would be
            # hidden behind a good hash, so the log must show none
            assert "<--- 426" not in result.stderr, result.stderr
        return result

    return run


@pytest.mark.parametrize("size", SIZES, ids=["0B", "1MiB", "64MiB"])
@pytest.mark.parametrize("mode", MODES)
def test_put_then_get_keeps_the_bytes(
    lftp: Lftp, server: RunningFerryd, payloads: dict[int, tuple[Path, str]], tmp_path: Path,
    mode: str, size: int,
) -> None:
    source, digest = payloads[size]
    name = f"lftp-{mode}-{size}.bin"
    target = tmp_path / "back.bin"
    result = lftp(mode, f"put {source} -o {name}; get {name} -o {target}")
    assert "---> REST" not in result.stderr, "a retried transfer:\n" + result.stderr
    stored = server.home(USER) / name
    assert stored.stat().st_size == size
    assert file_sha256(stored) == digest
    assert file_sha256(target) == digest


@pytest.mark.parametrize("mode", MODES)
def test_listings_are_parsed(lftp: Lftp, server: RunningFerryd, mode: str) -> None:
    folder = f"listing-{mode}"
    (server.home(USER) / folder).mkdir()
    expected = {"a.txt": 0, "b c.bin": 1234, "日本語.txt": 77}
    for name, size in expected.items():
        (server.home(USER) / folder / name).write_bytes(b"x" * size)
    (server.home(USER) / folder / "sub").mkdir()

    result = lftp(mode, f"cd {folder}; ls; echo ==MARK==; cls -1 -F")
    assert "---> LIST" in result.stderr and "---> MLSD" in result.stderr
    raw, _, parsed = result.stdout.partition("==MARK==\n")
    listing = parse_ls_lines(raw)
    assert {name: size for name, size in listing.items() if name != "sub"} == expected
    assert "sub" in listing
    # lftp's own view, built from MLSD facts: -F marks the folder
    assert sorted(parsed.splitlines()) == sorted([*expected, "sub/"])


@pytest.mark.parametrize("mode", MODES)
def test_get_and_put_continue(
    lftp: Lftp, server: RunningFerryd, payloads: dict[int, tuple[Path, str]], tmp_path: Path,
    mode: str,
) -> None:
    source, digest = payloads[MiB]
    data = source.read_bytes()
    remote_full, remote_partial = f"full-{mode}.bin", f"partial-{mode}.bin"
    (server.home(USER) / remote_full).write_bytes(data)
    (server.home(USER) / remote_partial).write_bytes(data[:400_000])
    local_partial = tmp_path / "partial.bin"
    local_partial.write_bytes(data[:123_457])

    result = lftp(mode, f"get -c {remote_full} -o {local_partial}; "
                        f"put -c {source} -o {remote_partial}")
    assert "---> REST 123457" in result.stderr
    assert "---> REST 400000" in result.stderr
    assert file_sha256(local_partial) == digest
    assert file_sha256(server.home(USER) / remote_partial) == digest


def test_directory_operations(
    lftp: Lftp, server: RunningFerryd, payloads: dict[int, tuple[Path, str]],
) -> None:
    source, digest = payloads[MiB]
    home = server.home(USER)
    lftp("epsv", f"mkdir -p ops/deep/er; put {source} -o ops/deep/er/file.bin; "
                 "mv ops/deep/er/file.bin ops/moved.bin; put /dev/null -o ops/doomed.txt; "
                 "rm ops/doomed.txt; rmdir ops/deep/er; rmdir ops/deep; mkdir ops/fresh")
    assert sorted(p.name for p in (home / "ops").iterdir()) == ["fresh", "moved.bin"]
    assert file_sha256(home / "ops/moved.bin") == digest

    failed = lftp("epsv", "rmdir ops/does-not-exist", check=False)
    assert failed.returncode != 0
    assert "<--- 550" in failed.stderr


@pytest.mark.parametrize("mode", ["epsv", "port"])
def test_japanese_names(
    lftp: Lftp, server: RunningFerryd, payloads: dict[int, tuple[Path, str]], tmp_path: Path,
    mode: str,
) -> None:
    source, digest = payloads[MiB]
    folder, name = f"日本語フォルダ-{mode}", "ファイル 名前.bin"
    target = tmp_path / "戻り.bin"
    result = lftp(mode, f'mkdir "{folder}"; put {source} -o "{folder}/{name}"; '
                        f'ls "{folder}"; get "{folder}/{name}" -o "{target}"')
    assert file_sha256(server.home(USER) / folder / name) == digest
    assert parse_ls_lines(result.stdout) == {name: MiB}
    assert file_sha256(target) == digest
