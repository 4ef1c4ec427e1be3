"""MountedFileSystem: shared folders routed into a user's tree, on real folders."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ferryd.storage.errors import AccessDenied, PathExists, PathNotFound
from ferryd.storage.local import LocalFileSystem
from ferryd.storage.mounted import MountedFileSystem


def mounted(tmp_path: Path) -> tuple[MountedFileSystem, Path, Path]:
    home, shared = tmp_path / "home", tmp_path / "exchange"
    home.mkdir()
    shared.mkdir()
    (home / "own.txt").write_bytes(b"mine")
    (shared / "drop.csv").write_bytes(b"1,2\n")
    fs = MountedFileSystem(
        LocalFileSystem(str(home)),
        {"/exchange/": LocalFileSystem(str(shared)),
         "/gone": LocalFileSystem(str(tmp_path / "missing"))},
    )
    return fs, home, shared


def test_the_root_lists_the_mount_point_and_paths_route_into_it(tmp_path: Path) -> None:
    fs, home, shared = mounted(tmp_path)

    async def scenario() -> None:
        names = sorted(entry.name for entry in await fs.list_dir("/"))
        assert names == ["exchange", "own.txt"]  # the missing target is not listed
        assert (await fs.stat("/exchange")).is_dir
        assert [entry.name for entry in await fs.list_dir("/exchange")] == ["drop.csv"]
        handle = await fs.open_write("/exchange/new.bin", atomic=True)
        await handle.write(b"new")
        await handle.commit()
        reader = await fs.open_read("/exchange/../exchange/drop.csv")
        assert await reader.read(100) == b"1,2\n"
        await reader.close()
        await fs.rename("/exchange/new.bin", "/exchange/renamed.bin")
        with pytest.raises(PathNotFound):
            await fs.stat("/gone/anything")

    asyncio.run(scenario())
    assert (shared / "renamed.bin").read_bytes() == b"new"
    assert not (home / "exchange").exists()


def test_mount_points_cannot_be_removed_renamed_or_left_by_rename(tmp_path: Path) -> None:
    fs, home, shared = mounted(tmp_path)

    async def scenario() -> None:
        with pytest.raises(AccessDenied):
            await fs.rmdir("/exchange")
        with pytest.raises(AccessDenied):
            await fs.rename("/exchange", "/elsewhere")
        with pytest.raises(AccessDenied):
            await fs.rename("/own.txt", "/exchange")
        with pytest.raises(AccessDenied, match="copy instead"):
            await fs.rename("/exchange/drop.csv", "/drop.csv")
        with pytest.raises(PathExists):
            await fs.mkdir("/exchange")
        await fs.close()

    asyncio.run(scenario())
    assert (shared / "drop.csv").exists() and not (home / "drop.csv").exists()
