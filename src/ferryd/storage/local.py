"""LocalFileSystem: a folder on this machine's disk, seen by one user as "/"."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import grp
import os
import posixpath
import pwd
import secrets
import stat as stat_module
from collections.abc import Callable, Sequence
from typing import TypeVar

from ferryd.storage.beneath import descriptor_path, open_folder, parent_of
from ferryd.storage.errors import (
    AccessDenied,
    OutsideRoot,
    PathNotFound,
    storage_error_from,
)
from ferryd.storage.protocol import Capability, FileStat, SpaceInfo

_T = TypeVar("_T")

async def _in_thread(path: str, call: Callable[[], _T]) -> _T:
    try:
        return await asyncio.to_thread(call)
    except OSError as exc:
        raise storage_error_from(exc, path) from exc


# A file smaller than this is read whole by its open, in the same worker-thread hop: a small
# download then costs one storage call (each hop is ~0.05-0.2 ms, a 4 KiB file's transfer less).
SMALL_FILE_SIZE = 64 * 1024


class LocalReadHandle:
    """A file opened for download; reads with pread so offsets never race. `head` holds the
    bytes from `offset` that the open read (a small file's whole content), `head_is_whole`
    that they reached the end of the file."""

    def __init__(
        self, fd: int, size: int, offset: int, path: str, *, head: bytes = b"",
        head_is_whole: bool = False,
    ) -> None:
        self._fd = fd
        self._size = size
        self._offset = offset
        self._path = path
        self._head = head
        self._head_offset = offset
        self._head_is_whole = head_is_whole

    @property
    def size(self) -> int:
        return self._size

    def preloaded(self, offset: int, size: int) -> bytes | None:
        start = offset - self._head_offset
        if start < 0 or start > len(self._head):
            return None
        if start + size <= len(self._head) or self._head_is_whole:
            return self._head[start:start + size]
        return None

    async def read(self, size: int) -> bytes:
        offset = self._offset
        data = self.preloaded(offset, size)
        if data is None:
            data = await _in_thread(self._path, lambda: os.pread(self._fd, size, offset))
        self._offset += len(data)
        return data

    async def read_at(self, offset: int, size: int) -> bytes:
        data = self.preloaded(offset, size)
        if data:  # at the end, storage is asked again: a file that grows is followed
            return data
        fd = self._fd
        return await _in_thread(self._path, lambda: os.pread(fd, size, offset))

    def fileno(self) -> int | None:
        return self._fd

    async def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


def _write_all_at(fd: int, data: bytes | memoryview, offset: int) -> None:
    view, at = memoryview(data), offset
    while view:
        written = os.pwrite(fd, view, at)
        view, at = view[written:], at + written


class _TailNotWritten(Exception):
    """commit()'s tail could not be written: nothing was closed or renamed."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


# Uploads in atomic mode are written under this hidden name in the target's folder and
# renamed into place when complete. Such names are never listed and never reachable.
ATOMIC_UPLOAD_PREFIX = ".ferryd-upload."


class LocalWriteHandle:
    """A file opened for upload. commit() fsyncs (and, in atomic mode, renames the hidden
    file into place, then fsyncs the folder); abort() may delete what was written.

    It owns `folder`, a descriptor of the folder the file was created in (see beneath.py):
    the rename and the delete happen there, even if a folder on the way was swapped since."""

    def __init__(
        self, fd: int, folder: int, name: str, path: str, position: int, *,
        final_name: str | None = None, no_replace: bool = False,
    ) -> None:
        self._fd = fd
        self._folder = folder
        self._name = name
        self._path = path
        self._position = position
        self._final_name = final_name  # atomic mode: the name commit() gives the file
        self._no_replace = no_replace

    @property
    def position(self) -> int:
        return self._position

    async def write(self, data: bytes | memoryview) -> None:
        fd = self._fd

        def write_all() -> None:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]

        await _in_thread(self._path, write_all)
        self._position += len(data)

    async def write_at(self, offset: int, data: bytes | memoryview) -> None:
        fd = self._fd
        await _in_thread(self._path, lambda: _write_all_at(fd, data, offset))
        self._position = max(self._position, offset + len(data))

    async def sync(self) -> None:
        fd = self._fd
        await _in_thread(self._path, lambda: os.fsync(fd))

    async def truncate(self, size: int) -> None:
        fd = self._fd
        await _in_thread(self._path, lambda: os.ftruncate(fd, size))

    def fileno(self) -> int | None:
        return self._fd if self._fd >= 0 else None

    def advance(self, size: int) -> None:
        self._position += size

    async def commit(self, *, tail: bytes = b"", tail_offset: int = 0) -> None:
        fd, folder = self._fd, self._folder
        if fd < 0:
            return
        final, temporary, no_replace = self._final_name, self._name, self._no_replace

        def write_sync_and_close() -> None:
            try:
                _write_all_at(fd, tail, tail_offset)
            except OSError as exc:
                raise _TailNotWritten(exc) from exc
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            if final is None:
                return
            try:
                if no_replace:  # STOU: never over a file that appeared meanwhile
                    os.link(temporary, final, src_dir_fd=folder, dst_dir_fd=folder,
                            follow_symlinks=False)
                    os.unlink(temporary, dir_fd=folder)
                else:
                    os.rename(temporary, final, src_dir_fd=folder, dst_dir_fd=folder)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=folder)
                raise
            readable = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=folder)
            try:
                os.fsync(readable)
            finally:
                os.close(readable)

        self._fd = -1  # a second commit, or an abort, while this one runs does nothing
        try:
            await _in_thread(self._path, write_sync_and_close)
        except _TailNotWritten as exc:
            self._fd = fd  # still open, as the protocol promises: abort() cleans up
            raise storage_error_from(exc.error, self._path) from exc.error
        except BaseException:
            self._folder = -1
            os.close(folder)
            raise
        self._position = max(self._position, tail_offset + len(tail))
        self._folder = -1
        os.close(folder)

    async def abort(self, *, delete: bool) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
        folder, self._folder = self._folder, -1
        if folder < 0:
            return
        name = self._name
        try:
            if delete or self._final_name is not None:  # a hidden partial is never kept
                with contextlib.suppress(PathNotFound):
                    await _in_thread(self._path, lambda: os.unlink(name, dir_fd=folder))
        finally:
            os.close(folder)


def _is_symlink(os_path: str) -> bool:
    try:
        return stat_module.S_ISLNK(os.lstat(os_path).st_mode)
    except OSError:
        return False  # missing, or not reachable: realpath would keep the path as it is


def _parent_descriptor(root: str, os_path: str) -> tuple[int, str]:
    """parent_of's descriptor and name, the descriptor kept open for a write handle."""
    if os_path == root:
        raise OSError(errno.EISDIR, "Is a directory")
    return open_folder(root, os.path.dirname(os_path)), os.path.basename(os_path)


def _cached_name(cache: dict[int, str], number: int, look_up: Callable[[], str]) -> str:
    """A user or group name for text_userdb_names, looked up once; the number if unknown."""
    name = cache.get(number)
    if name is None:
        try:
            name = look_up()
        except KeyError:
            name = str(number)
        cache[number] = name
    return name


class LocalFileSystem:
    """Confines every path to `root`: no `..`, symlink or encoding trick leaves it."""

    def __init__(self, root: str, *, lock_files: bool = True) -> None:
        self._root = os.path.realpath(root)
        self._lock_files = lock_files
        self._user_names: dict[int, str] = {}
        self._group_names: dict[int, str] = {}

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset(
            {Capability.SENDFILE, Capability.HARDLINK, Capability.ATOMIC_RENAME,
             Capability.POSIX_PERMISSIONS}
        )

    @property
    def root(self) -> str:
        return self._root

    # -- path confinement -------------------------------------------------------------
    def _inside(self, real: str) -> bool:
        return real == self._root or real.startswith(self._root.rstrip(os.sep) + os.sep)

    def os_path(self, path: str, *, follow: bool = True) -> str:
        """The OS path for a virtual path, after checking it stays inside the root.

        With follow=False the last component is not resolved (rename, remove, lstat act on
        a symlink itself); its parent still is.
        """
        if "\x00" in path:
            raise OutsideRoot(f"{path!r}: NUL byte in path")
        normal = posixpath.normpath("/" + path.lstrip("/"))
        if normal in ("/", "//"):
            return self._root
        try:
            return self._checked(path, normal, follow)
        except OSError as exc:  # realpath met a link changing under it (a symlink race)
            raise storage_error_from(exc, path) from exc

    def _checked(self, path: str, normal: str, follow: bool) -> str:
        parent = os.path.realpath(os.path.join(self._root, posixpath.dirname(normal)[1:]))
        if not self._inside(parent):
            raise OutsideRoot(f"{path}: outside the user's root")
        name = posixpath.basename(normal)
        if name.startswith(ATOMIC_UPLOAD_PREFIX):
            raise PathNotFound(f"{path}: no such file")
        candidate = os.path.join(parent, name)
        if not follow:
            return candidate
        # `parent` is resolved already: only a symlink as the last component can change the
        # path (realpath would lstat every component again, on the event loop)
        real = os.path.realpath(candidate) if _is_symlink(candidate) else candidate
        if not self._inside(real):
            raise OutsideRoot(f"{path}: outside the user's root")
        return real

    # -- metadata -----------------------------------------------------------------------
    def _owner(self, uid: int) -> str:
        return _cached_name(self._user_names, uid, lambda: pwd.getpwuid(uid).pw_name)

    def _group(self, gid: int) -> str:
        return _cached_name(self._group_names, gid, lambda: grp.getgrgid(gid).gr_name)

    def _file_stat(self, name: str, st: os.stat_result, link_target: str | None) -> FileStat:
        return FileStat(
            name=name, size=st.st_size, mtime=st.st_mtime, mode=st.st_mode,
            nlink=st.st_nlink, uid=st.st_uid, gid=st.st_gid,
            owner=self._owner(st.st_uid), group=self._group(st.st_gid), link_target=link_target,
        )

    async def stat(self, path: str) -> FileStat:
        os_path = self.os_path(path)

        def read() -> os.stat_result:
            with parent_of(self._root, os_path) as (folder, name):
                return os.stat(name, dir_fd=folder, follow_symlinks=False)

        st = await _in_thread(path, read)
        return self._file_stat(posixpath.basename(path.rstrip("/")) or "/", st, None)

    async def lstat(self, path: str) -> FileStat:
        os_path = self.os_path(path, follow=False)

        def read() -> tuple[os.stat_result, str | None]:
            with parent_of(self._root, os_path) as (folder, name):
                st = os.stat(name, dir_fd=folder, follow_symlinks=False)
                link = os.readlink(name, dir_fd=folder) if stat_module.S_ISLNK(st.st_mode) else None
            return st, link

        st, target = await _in_thread(path, read)
        return self._file_stat(posixpath.basename(path.rstrip("/")) or "/", st, target)

    async def list_dir(self, path: str) -> Sequence[FileStat]:
        os_path = self.os_path(path)

        def scan() -> list[tuple[str, os.stat_result]]:
            entries: list[tuple[str, os.stat_result]] = []
            walked = open_folder(self._root, os_path)
            try:
                listed = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=walked)
            finally:
                os.close(walked)
            with os.scandir(listed) as iterator:  # closes `listed`
                for entry in iterator:
                    if entry.name.startswith(ATOMIC_UPLOAD_PREFIX):
                        continue
                    try:
                        st = entry.stat(follow_symlinks=True)
                        real = os.path.realpath(os.path.join(os_path, entry.name))
                        if entry.is_symlink() and not self._inside(real):
                            st = entry.stat(follow_symlinks=False)
                    except OSError:
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                    entries.append((entry.name, st))
            return entries

        entries = await _in_thread(path, scan)
        return [self._file_stat(name, st, None) for name, st in entries]

    # -- content ------------------------------------------------------------------------
    async def open_read(self, path: str, offset: int = 0) -> LocalReadHandle:
        os_path = self.os_path(path)
        lock = self._lock_files

        def open_file() -> tuple[int, int, bytes | None]:
            with parent_of(self._root, os_path) as (folder, name):
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            try:
                st = os.fstat(fd)
                if stat_module.S_ISDIR(st.st_mode):
                    raise OSError(errno.EISDIR, "Is a directory")
                if not stat_module.S_ISREG(st.st_mode):
                    raise OSError(errno.EACCES, "Not a regular file")
                if lock:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                small = st.st_size - offset < SMALL_FILE_SIZE
                return fd, st.st_size, os.pread(fd, SMALL_FILE_SIZE, offset) if small else None
            except BaseException:
                os.close(fd)
                raise

        fd, size, head = await _in_thread(path, open_file)
        if head is None:
            return LocalReadHandle(fd, size, offset, path)
        return LocalReadHandle(fd, size, offset, path, head=head,
                               head_is_whole=len(head) < SMALL_FILE_SIZE)

    async def open_write(
        self, path: str, *, offset: int = 0, append: bool = False, mode: int = 0o666,
        exclusive: bool = False, truncate: bool = True, atomic: bool = False,
    ) -> LocalWriteHandle:
        os_path = self.os_path(path, follow=False)
        if atomic and offset == 0 and not append and truncate:
            return await self._open_atomic(path, os_path, mode, exclusive)
        lock = self._lock_files

        def open_file() -> tuple[int, int, int, str]:
            flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            if exclusive:
                flags |= os.O_EXCL
            if append:
                flags |= os.O_APPEND
            folder, name = _parent_descriptor(self._root, os_path)
            fd = -1
            try:
                fd = os.open(name, flags, mode, dir_fd=folder)
                st = os.fstat(fd)
                if not stat_module.S_ISREG(st.st_mode):
                    raise OSError(errno.EACCES, "Not a regular file")
                if lock:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if append:
                    return fd, st.st_size, folder, name
                if truncate:
                    os.ftruncate(fd, offset)
                os.lseek(fd, offset, os.SEEK_SET)
                return fd, offset, folder, name
            except BaseException:
                if fd >= 0:
                    os.close(fd)
                os.close(folder)
                raise

        fd, position, folder, name = await _in_thread(path, open_file)
        return LocalWriteHandle(fd, folder, name, path, position)

    async def _open_atomic(
        self, path: str, os_path: str, mode: int, exclusive: bool
    ) -> LocalWriteHandle:
        """A new hidden file beside the target; commit() renames it into place."""
        temporary = f"{ATOMIC_UPLOAD_PREFIX}{secrets.token_hex(8)}"

        def open_file() -> tuple[int, int, str]:
            folder, name = _parent_descriptor(self._root, os_path)
            try:
                try:
                    existing: os.stat_result | None = os.stat(
                        name, dir_fd=folder, follow_symlinks=False)
                except FileNotFoundError:
                    existing = None
                if exclusive and existing is not None:
                    raise OSError(errno.EEXIST, "File exists")
                if existing is not None and stat_module.S_ISDIR(existing.st_mode):
                    raise OSError(errno.EISDIR, "Is a directory")
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                return os.open(temporary, flags, mode, dir_fd=folder), folder, name
            except BaseException:
                os.close(folder)
                raise

        fd, folder, name = await _in_thread(path, open_file)
        return LocalWriteHandle(
            fd, folder, temporary, path, 0, final_name=name, no_replace=exclusive
        )

    # -- names --------------------------------------------------------------------------
    async def mkdir(self, path: str, mode: int = 0o777) -> None:
        os_path = self.os_path(path, follow=False)

        def make() -> None:
            with parent_of(self._root, os_path) as (folder, name):
                os.mkdir(name, mode, dir_fd=folder)

        await _in_thread(path, make)

    async def rmdir(self, path: str) -> None:
        os_path = self.os_path(path, follow=False)
        if os_path == self._root:
            raise AccessDenied(f"{path}: the root cannot be removed")

        def remove_folder() -> None:
            with parent_of(self._root, os_path) as (folder, name):
                os.rmdir(name, dir_fd=folder)

        await _in_thread(path, remove_folder)

    async def remove(self, path: str) -> None:
        os_path = self.os_path(path, follow=False)

        def unlink() -> None:
            with parent_of(self._root, os_path) as (folder, name):
                st = os.stat(name, dir_fd=folder, follow_symlinks=False)
                if stat_module.S_ISDIR(st.st_mode):
                    raise OSError(errno.EISDIR, "Is a directory")
                os.unlink(name, dir_fd=folder)

        await _in_thread(path, unlink)

    async def rename(self, source: str, target: str) -> None:
        os_source = self.os_path(source, follow=False)
        os_target = self.os_path(target, follow=False)
        if self._root in (os_source, os_target):
            raise AccessDenied(f"{source}: the root cannot be renamed")
        def move() -> None:
            with parent_of(self._root, os_source) as (from_folder, from_name), \
                    parent_of(self._root, os_target) as (to_folder, to_name):
                os.rename(from_name, to_name, src_dir_fd=from_folder, dst_dir_fd=to_folder)

        await _in_thread(source, move)

    async def chmod(self, path: str, mode: int) -> None:
        os_path = self.os_path(path)
        await _in_thread(path, lambda: self._on_inode(os_path, lambda at: os.chmod(at, mode)))

    async def set_mtime(self, path: str, mtime: float) -> None:
        os_path = self.os_path(path)
        await _in_thread(
            path, lambda: self._on_inode(os_path, lambda at: os.utime(at, (mtime, mtime)))
        )

    def _on_inode(self, os_path: str, change: Callable[[str], None]) -> None:
        """chmod or utime the very inode reached beneath the root; one swapped for a symlink
        since the check is the link itself, which Linux refuses to chmod (EOPNOTSUPP)."""
        with parent_of(self._root, os_path) as (folder, name):
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
        try:
            if stat_module.S_ISLNK(os.fstat(fd).st_mode):
                raise OSError(errno.ELOOP, "Too many levels of symbolic links")
            change(descriptor_path(fd))
        finally:
            os.close(fd)

    async def space(self, path: str) -> SpaceInfo:
        os_path = self.os_path(path)
        result = await _in_thread(path, lambda: os.statvfs(os_path))
        return SpaceInfo(
            block_size=result.f_bsize, fragment_size=result.f_frsize, blocks=result.f_blocks,
            free_blocks=result.f_bfree, available_blocks=result.f_bavail, files=result.f_files,
            free_files=result.f_ffree, available_files=result.f_favail,
            read_only=bool(result.f_flag & os.ST_RDONLY), max_name_length=result.f_namemax,
        )

    async def close(self) -> None:
        """Nothing to release: every handle is closed by its owner."""
