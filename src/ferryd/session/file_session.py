"""FileSession: every file operation a logged-in user can ask for, whatever the protocol.

Front ends decode a request, call one method here, and map the result or the error.
Permissions, path confinement, name filters, umask and transfer records live here only.
"""

from __future__ import annotations

import asyncio
import hashlib
import posixpath
import secrets
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from ferryd.audit.records import EventKind, EventRecord
from ferryd.policy.permissions import NameFilter, Permission, PermissionRules
from ferryd.session.errors import InvalidPath, PermissionDenied
from ferryd.session.paths import resolve_path
from ferryd.session.transfers import Download, TransferContext, Upload
from ferryd.storage.errors import NotADirectory, PathExists, PathNotFound, StorageError
from ferryd.storage.protocol import FileStat, FileSystem, SpaceInfo


@dataclass(frozen=True)
class SessionPolicy:
    """What one logged-in user may do, built once at login."""

    permissions: PermissionRules
    names: NameFilter
    umask: int = 0o077
    file_open_mode: int = 0o666
    delete_failed_uploads: bool = False
    max_rate: int = 0
    atomic_uploads: bool = False  # upload_mode=atomic: new content appears whole, or not at all
    world_readable_only: bool = False  # anon_world_readable_only: only files others may read


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


class _Crc32:
    """hashlib-like wrapper so CRC32 streams through the same loop as the real hashes."""

    name = "crc32"

    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = zlib.crc32(data, self._value)

    def hexdigest(self) -> str:
        return f"{self._value:08x}"


def _upload_permissions(
    *, exists: bool, resuming: bool, keep_content: bool
) -> tuple[Permission, ...]:
    """What an upload needs, checked in this order: onto an existing file, appending or
    resuming needs APPEND, replacing or writing over it OVERWRITE and UPLOAD; a new file
    UPLOAD."""
    if not exists:
        return (Permission.UPLOAD,)
    if resuming and not keep_content:
        return (Permission.APPEND,)
    return (Permission.OVERWRITE, Permission.UPLOAD)


CHECKSUM_ALGORITHMS: dict[str, Callable[[], _Digest]] = {
    "CRC32": _Crc32,
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-512": hashlib.sha512,
}

_CHECKSUM_CHUNK = 1 << 20


class FileSession:
    """One user's view of their storage: a working folder and the operations on it."""

    # one per idle session
    __slots__ = ("_context", "_cwd", "_fs", "_on_close", "_policy", "_umask")

    def __init__(
        self, *, file_system: FileSystem, policy: SessionPolicy, context: TransferContext,
        start: str = "/", on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`on_close`: what else ends with the session (session_support's login record)."""
        self._fs = file_system
        self._on_close = on_close
        self._policy = policy
        self._context = context
        self._cwd = start
        self._umask = policy.umask

    @property
    def cwd(self) -> str:
        return self._cwd

    @property
    def user(self) -> str:
        return self._context.user

    @property
    def file_system(self) -> FileSystem:
        return self._fs

    @property
    def umask(self) -> int:
        return self._umask

    def set_umask(self, umask: int) -> None:
        """SITE UMASK: the mask for files and folders this session creates from now on."""
        self._umask = umask & 0o777

    async def close(self) -> None:
        """The user logged out or went away: release the storage (a system user's process)."""
        try:
            await self._fs.close()
        finally:
            on_close, self._on_close = self._on_close, None
            if on_close is not None:
                await on_close()

    def resolve(self, argument: str) -> str:
        return resolve_path(self._cwd, argument)

    # -- checks -----------------------------------------------------------------------
    def _require(self, permission: Permission, path: str) -> None:
        if self._policy.names.is_denied(path):
            raise PermissionDenied(f"{path}: access denied by deny_file")
        if not self._policy.permissions.allows(permission, path):
            raise PermissionDenied(f"{path}: {permission.value} not permitted")

    def may(self, permission: Permission, path: str) -> bool:
        """Whether an operation would pass the permission check (for MLSD perm facts)."""
        return (
            not self._policy.names.is_denied(path)
            and self._policy.permissions.allows(permission, path)
        )

    def _visible(self, path: str) -> None:
        if self._policy.names.is_denied(path):
            raise PermissionDenied(f"{path}: access denied by deny_file")

    def _event(self, kind: EventKind, detail: str, ok: bool) -> None:
        context = self._context
        context.audit.event(
            EventRecord(
                kind=kind, protocol=context.protocol, user=context.user,
                client_address=context.client_address, detail=detail, ok=ok, at=time.time(),
            )
        )

    # -- navigation and metadata --------------------------------------------------------
    async def change_dir(self, argument: str) -> str:
        path = self.resolve(argument)
        self._visible(path)
        entry = await self._fs.stat(path)
        if not entry.is_dir:
            raise NotADirectory(f"{path}: not a directory")
        self._cwd = path
        return path

    async def stat(self, argument: str) -> FileStat:
        path = self.resolve(argument)
        self._visible(path)
        return await self._fs.stat(path)

    async def lstat(self, argument: str) -> FileStat:
        path = self.resolve(argument)
        self._visible(path)
        return await self._fs.lstat(path)

    async def list_dir(self, argument: str) -> tuple[str, list[FileStat]]:
        """The entries of a folder (or a one-entry list for a file), hidden names removed."""
        path = self.resolve(argument)
        self._require(Permission.LIST, path)
        entry = await self._fs.stat(path)
        if not entry.is_dir:
            return path, [entry]
        entries = await self._fs.list_dir(path)
        names = self._policy.names
        visible = [e for e in entries if not names.is_hidden(posixpath.join(path, e.name))]
        return path, visible

    async def read_folder_message(self, name: str, limit: int = 16 * 1024) -> str | None:
        """dirmessage_enable: the text of `name` in the working folder, or None if absent."""
        path = resolve_path(self._cwd, name)
        if self._policy.names.is_denied(path):
            return None
        try:
            handle = await self._fs.open_read(path)
        except StorageError:
            return None
        try:
            data = await handle.read(limit)
        finally:
            await handle.close()
        return data.decode("utf-8", "replace").rstrip("\n") or None

    # -- content ------------------------------------------------------------------------
    async def open_download(
        self, argument: str, *, offset: int = 0, ascii_mode: bool = False
    ) -> Download:
        path = self.resolve(argument)
        self._require(Permission.DOWNLOAD, path)
        if self._policy.world_readable_only and not (await self._fs.stat(path)).mode & 0o004:
            raise PermissionDenied(f"{path}: not world-readable (anon_world_readable_only)")
        handle = await self._fs.open_read(path, offset)
        return Download(handle, path=path, context=self._context, ascii_mode=ascii_mode)

    async def _target_exists(self, path: str) -> bool:
        try:
            await self._fs.lstat(path)
        except PathNotFound:
            return False
        return True

    async def open_upload(
        self, argument: str, *, offset: int = 0, append: bool = False, ascii_mode: bool = False,
        exclusive: bool = False, keep_content: bool = False,
    ) -> Upload:
        """keep_content (SFTP opens without FXF_TRUNC): nothing is cut, writes land at their
        offsets over the existing content: an overwrite."""
        path = self.resolve(argument)
        if path == "/":
            raise InvalidPath("/: cannot upload onto the root folder")
        over_existing = _upload_permissions(
            exists=True, resuming=append or bool(offset), keep_content=keep_content)
        as_new = _upload_permissions(exists=False, resuming=False, keep_content=keep_content)
        if not all(self.may(permission, path) for permission in over_existing + as_new):
            # the verdict depends on whether the target exists: look (a storage call)
            exists = await self._target_exists(path)
            for permission in over_existing if exists else as_new:
                self._require(permission, path)
        mode = self._policy.file_open_mode & ~self._umask
        handle = await self._fs.open_write(
            path, offset=offset, append=append, mode=mode, exclusive=exclusive,
            truncate=not keep_content, atomic=self._policy.atomic_uploads,
        )
        return Upload(
            handle, path=path, context=self._context, ascii_mode=ascii_mode,
            delete_on_failure=self._policy.delete_failed_uploads,
        )

    async def open_unique_upload(self, argument: str | None) -> Upload:
        """STOU: a new file whose name nobody else has, next to `argument` or in cwd."""
        base = self.resolve(argument) if argument else posixpath.join(self._cwd, "ferryd")
        self._require(Permission.UPLOAD, base)
        mode = self._policy.file_open_mode & ~self._umask
        for _attempt in range(100):
            candidate = f"{base}.{secrets.token_hex(4)}"
            if argument and not await self._target_exists(base):
                candidate = base
            try:
                handle = await self._fs.open_write(
                    candidate, mode=mode, exclusive=True, atomic=self._policy.atomic_uploads
                )
            except PathExists:
                continue
            return Upload(
                handle, path=candidate, context=self._context, ascii_mode=False,
                delete_on_failure=self._policy.delete_failed_uploads,
            )
        raise PathExists(f"{base}: no unique name found")

    async def checksum(self, argument: str, algorithm: str, start: int = 0,
                       end: int | None = None) -> str:
        """Stream a file (or a byte range of it) through a hash, never loading it whole."""
        path = self.resolve(argument)
        self._require(Permission.DOWNLOAD, path)
        factory = CHECKSUM_ALGORITHMS[algorithm]
        digest = factory()
        handle = await self._fs.open_read(path, start)
        try:
            remaining = (handle.size if end is None else min(end, handle.size)) - start
            while remaining > 0:
                chunk = await handle.read(min(_CHECKSUM_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                await asyncio.to_thread(digest.update, chunk)
        finally:
            await handle.close()
        return digest.hexdigest()

    # -- names --------------------------------------------------------------------------
    async def make_dir(self, argument: str) -> str:
        path = self.resolve(argument)
        self._require(Permission.MKDIR, path)
        try:
            await self._fs.mkdir(path, 0o777 & ~self._umask)
        except Exception:
            self._event(EventKind.MKDIR, path, False)
            raise
        self._event(EventKind.MKDIR, path, True)
        return path

    async def remove_dir(self, argument: str) -> str:
        path = self.resolve(argument)
        self._require(Permission.RMDIR, path)
        if path == "/":
            raise PermissionDenied("/: the root folder cannot be removed")
        try:
            await self._fs.rmdir(path)
        except Exception:
            self._event(EventKind.RMDIR, path, False)
            raise
        self._event(EventKind.RMDIR, path, True)
        return path

    async def delete(self, argument: str) -> str:
        path = self.resolve(argument)
        self._require(Permission.DELETE, path)
        try:
            await self._fs.remove(path)
        except Exception:
            self._event(EventKind.DELETE, path, False)
            raise
        self._event(EventKind.DELETE, path, True)
        return path

    async def check_rename_source(self, argument: str) -> str:
        path = self.resolve(argument)
        self._require(Permission.RENAME, path)
        if path == "/":
            raise PermissionDenied("/: the root folder cannot be renamed")
        await self._fs.lstat(path)
        return path

    async def rename(self, source_argument: str, target_argument: str) -> tuple[str, str]:
        source = await self.check_rename_source(source_argument)
        target = self.resolve(target_argument)
        self._require(Permission.RENAME, target)
        if await self._target_exists(target):
            self._require(Permission.OVERWRITE, target)
        try:
            await self._fs.rename(source, target)
        except Exception:
            self._event(EventKind.RENAME, f"{source} {target}", False)
            raise
        self._event(EventKind.RENAME, f"{source} {target}", True)
        return source, target

    async def chmod(self, argument: str, mode: int) -> str:
        path = self.resolve(argument)
        self._require(Permission.CHMOD, path)
        await self._fs.chmod(path, mode & 0o7777)
        self._event(EventKind.CHMOD, f"{path} {mode:o}", True)
        return path

    async def space(self, argument: str) -> SpaceInfo:
        """Size and free space where `argument` lives (SFTP statvfs, `df`)."""
        path = self.resolve(argument)
        self._visible(path)
        return await self._fs.space(path)

    async def set_mtime(self, argument: str, mtime: float) -> str:
        path = self.resolve(argument)
        self._require(Permission.SET_TIME, path)
        await self._fs.set_mtime(path, mtime)
        return path
