"""MountedFileSystem: a user's tree with shared folders mapped into it (virtual folders).

`ferryd user folder alice /inbox=/srv/exchange/inbox` shows the folder /srv/exchange/inbox as
/inbox in alice's tree; several users can have the same folder, which is how a producer and a
consumer meet. Every path is routed to the file system whose mount point is its longest
prefix; the folder above a mount point lists it even when the user's own tree has nothing
there.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import replace

from ferryd.storage.errors import AccessDenied, PathExists, StorageError
from ferryd.storage.protocol import (
    Capability,
    FileStat,
    FileSystem,
    ReadHandle,
    SpaceInfo,
    WriteHandle,
)


def _normal(path: str) -> str:
    return posixpath.normpath("/" + path.lstrip("/"))


class MountedFileSystem:
    """`base` is the user's own tree; `mounts` maps absolute virtual folders to trees."""

    def __init__(self, base: FileSystem, mounts: Mapping[str, FileSystem]) -> None:
        self._base = base
        self._mounts = {
            _normal(point): fs for point, fs in mounts.items() if _normal(point) != "/"
        }
        # longest mount point first, so /a/b wins over /a
        self._order = sorted(self._mounts, key=len, reverse=True)

    @property
    def capabilities(self) -> frozenset[Capability]:
        shared = self._base.capabilities
        for fs in self._mounts.values():
            shared &= fs.capabilities
        return shared

    def _route(self, path: str) -> tuple[FileSystem, str, str | None]:
        """(file system, path inside it, mount point or None for the base)."""
        normal = _normal(path)
        for point in self._order:
            if normal == point or normal.startswith(point + "/"):
                return self._mounts[point], "/" + normal[len(point):].lstrip("/"), point
        return self._base, normal, None

    def _refuse_mount_point(self, path: str, action: str) -> None:
        if _normal(path) in self._mounts:
            raise AccessDenied(f"{path}: a shared folder cannot be {action}")

    async def stat(self, path: str) -> FileStat:
        fs, inner, point = self._route(path)
        found = await fs.stat(inner)
        return found if point is None or inner != "/" else replace(
            found, name=posixpath.basename(point)
        )

    async def lstat(self, path: str) -> FileStat:
        fs, inner, point = self._route(path)
        found = await fs.lstat(inner)
        return found if point is None or inner != "/" else replace(
            found, name=posixpath.basename(point)
        )

    async def list_dir(self, path: str) -> Sequence[FileStat]:
        fs, inner, _point = self._route(path)
        here = _normal(path)
        below = [point for point in self._mounts if posixpath.dirname(point) == here]
        try:
            entries = list(await fs.list_dir(inner))
        except StorageError:
            if not below:
                raise
            entries = []
        if not below:
            return entries
        names = {posixpath.basename(point) for point in below}
        entries = [entry for entry in entries if entry.name not in names]
        for point in sorted(below):
            with contextlib.suppress(StorageError):  # a missing target: not listed
                entries.append(await self.stat(point))
        return entries

    async def open_read(self, path: str, offset: int = 0) -> ReadHandle:
        fs, inner, _point = self._route(path)
        return await fs.open_read(inner, offset)

    async def open_write(
        self, path: str, *, offset: int = 0, append: bool = False, mode: int = 0o666,
        exclusive: bool = False, truncate: bool = True, atomic: bool = False,
    ) -> WriteHandle:
        fs, inner, _point = self._route(path)
        return await fs.open_write(inner, offset=offset, append=append, mode=mode,
                                   exclusive=exclusive, truncate=truncate, atomic=atomic)

    async def mkdir(self, path: str, mode: int = 0o777) -> None:
        if _normal(path) in self._mounts:
            raise PathExists(f"{path}: File exists")
        fs, inner, _point = self._route(path)
        await fs.mkdir(inner, mode)

    async def rmdir(self, path: str) -> None:
        self._refuse_mount_point(path, "removed")
        fs, inner, _point = self._route(path)
        await fs.rmdir(inner)

    async def remove(self, path: str) -> None:
        self._refuse_mount_point(path, "removed")
        fs, inner, _point = self._route(path)
        await fs.remove(inner)

    async def rename(self, source: str, target: str) -> None:
        self._refuse_mount_point(source, "renamed")
        self._refuse_mount_point(target, "replaced")
        source_fs, source_inner, source_point = self._route(source)
        _target_fs, target_inner, target_point = self._route(target)
        if source_point != target_point:
            raise AccessDenied(f"{source}: cannot move between shared folders; copy instead")
        await source_fs.rename(source_inner, target_inner)

    async def chmod(self, path: str, mode: int) -> None:
        fs, inner, _point = self._route(path)
        await fs.chmod(inner, mode)

    async def set_mtime(self, path: str, mtime: float) -> None:
        fs, inner, _point = self._route(path)
        await fs.set_mtime(inner, mtime)

    async def space(self, path: str) -> SpaceInfo:
        fs, inner, _point = self._route(path)
        return await fs.space(inner)

    async def close(self) -> None:
        await self._base.close()
        for fs in self._mounts.values():
            await fs.close()

