"""UserProcessFileSystem: a FileSystem whose every call runs in a process of the logged-in user.

The processes are forked by a spawner: one single-threaded process that ferryd forks (as
root) before it starts any thread. Forking from it, not from ferryd's threaded event loop,
keeps each fork safe; the child then drops to the user (user_process_worker.py). Requests go
one at a time over a socket pair, in a worker thread (the socket calls block); reads and
writes of file content use the descriptors the process sends back, in ferryd's own process,
so transfers cost no extra copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ferryd.storage.errors import StorageError, StorageIOError, storage_error_from
from ferryd.storage.local import LocalReadHandle, LocalWriteHandle
from ferryd.storage.process_wire import WireError, decode_error, receive_message, send_message
from ferryd.storage.protocol import Capability, FileStat, SpaceInfo
from ferryd.storage.user_process_worker import FileProcessSpec, run_file_process


class FileProcessError(StorageIOError):
    """The user's file process could not be started or has gone away."""


@dataclass(frozen=True)
class UploadOwner:
    """chown_uploads: every file uploaded is given to this owner and mode as it is opened
    (ferryd, root, changes it through its descriptor; the user's process could not)."""

    uid: int
    gid: int
    mode: int


class FileProcessLauncher:
    """Forks file processes from a spawner: a single-threaded root process forked off ferryd
    at start-up, before any thread exists, so that its own forks are safe. Create it before
    the event loop starts any thread."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:  # the spawner
            ours.close()
            status = 0
            try:
                _spawn_forever(theirs)
            except BaseException:
                status = 1
            finally:
                os._exit(status)
        theirs.close()
        self._sock = ours
        self._spawner = pid
        self._lock = threading.Lock()

    def _spawn(self, spec: FileProcessSpec, sock: socket.socket) -> None:
        with self._lock:
            send_message(self._sock, {"spec": dataclasses.asdict(spec)}, (sock.fileno(),))
            reply, fds = receive_message(self._sock)
        for fd in fds:
            os.close(fd)
        if "error" in reply:
            raise FileProcessError(str(reply["error"]))

    async def start(
        self, spec: FileProcessSpec, upload_owner: UploadOwner | None = None
    ) -> UserProcessFileSystem:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            await asyncio.to_thread(self._spawn, spec, theirs)
        except (OSError, WireError, ValueError) as exc:
            ours.close()
            raise FileProcessError(f"cannot start the file process: {exc}") from exc
        except FileProcessError:
            ours.close()
            raise
        finally:
            theirs.close()
        return UserProcessFileSystem(ours, upload_owner)

    def close(self) -> None:
        """Stop the spawner; running file processes end when their sessions hang up."""
        with self._lock:
            self._sock.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self._spawner, 0)


def _spawn_forever(requests: socket.socket) -> None:
    """The spawner's loop: one forked, privilege-dropped file process per request."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the file processes
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ferryd decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while True:
        try:
            message, fds = receive_message(requests)
        except (WireError, OSError, ValueError):
            return
        try:
            spec = FileProcessSpec(**{**message["spec"],
                                      "groups": tuple(message["spec"]["groups"])})
            if len(fds) != 1:
                raise ValueError("one socket expected")
        except (KeyError, TypeError, ValueError) as exc:
            for fd in fds:
                os.close(fd)
            send_message(requests, {"error": f"bad spawn request: {exc}"})
            continue
        pid = os.fork()
        if pid == 0:
            requests.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            status = 0
            try:
                run_file_process(socket.socket(fileno=fds[0]), spec)
            except BaseException as exc:
                print(f"ferryd: file process for uid {spec.uid} failed: {exc!r}",
                      file=sys.stderr, flush=True)
                status = 1
            finally:
                os._exit(status)
        os.close(fds[0])
        send_message(requests, {"ok": pid})


class ForwardedWriteHandle(LocalWriteHandle):
    """Writes go straight to the descriptor (as LocalWriteHandle's do); commit() and abort()
    (the fsync and rename into place, the removal of a partial file) are the user's
    process's to do."""

    def __init__(self, owner: UserProcessFileSystem, fd: int, upload: int, path: str,
                 position: int) -> None:
        super().__init__(fd, -1, "", path, position)  # no folder: the process renames
        self._owner = owner
        self._upload = upload

    def _hand_back(self) -> bool:
        """Close our descriptor; the process keeps its own for the fsync. False: done before."""
        fd, self._fd = self._fd, -1
        if fd < 0:
            return False
        os.close(fd)
        return True

    async def commit(self, *, tail: bytes = b"", tail_offset: int = 0) -> None:
        if tail:
            await self.write_at(tail_offset, tail)  # fails with the handle still open
        if self._hand_back():
            await self._owner.call("commit", upload=self._upload)

    async def abort(self, *, delete: bool) -> None:
        if self._hand_back():
            with contextlib.suppress(StorageError):
                await self._owner.call("abort", upload=self._upload, delete=delete)


class UserProcessFileSystem:
    """The FileSystem protocol, served by a process running as the session's user."""

    def __init__(self, sock: socket.socket, upload_owner: UploadOwner | None = None) -> None:
        self._sock = sock
        self._upload_owner = upload_owner
        self._lock = threading.Lock()

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset(
            {Capability.SENDFILE, Capability.ATOMIC_RENAME, Capability.POSIX_PERMISSIONS}
        )

    def _round_trip(self, op: str, args: dict[str, Any]) -> tuple[Any, list[int]]:
        with self._lock:
            if self._sock.fileno() < 0:
                raise FileProcessError("the session's file process has stopped")
            try:
                send_message(self._sock, {"op": op, "args": args})
                reply, fds = receive_message(self._sock)
            except (OSError, WireError, ValueError) as exc:
                raise FileProcessError(f"the session's file process failed: {exc}") from exc
        if "error" in reply:
            for fd in fds:
                os.close(fd)
            raise decode_error(reply["error"])
        return reply.get("ok"), fds

    async def call(self, op: str, **args: Any) -> Any:
        result, fds = await asyncio.to_thread(self._round_trip, op, args)
        for fd in fds:  # only open_read/open_write expect one
            os.close(fd)
        return result

    async def _call_with_descriptor(self, op: str, **args: Any) -> tuple[Any, int]:
        result, fds = await asyncio.to_thread(self._round_trip, op, args)
        if len(fds) != 1 or not isinstance(result, dict):
            for fd in fds:
                os.close(fd)
            raise FileProcessError(f"{op}: the file process sent no file")
        return result, fds[0]

    async def stat(self, path: str) -> FileStat:
        return _file_stat(await self.call("stat", path=path))

    async def lstat(self, path: str) -> FileStat:
        return _file_stat(await self.call("lstat", path=path))

    async def list_dir(self, path: str) -> Sequence[FileStat]:
        entries = await self.call("list_dir", path=path)
        if not isinstance(entries, list):
            raise FileProcessError("list_dir: malformed reply")
        return [_file_stat(entry) for entry in entries]

    async def open_read(self, path: str, offset: int = 0) -> LocalReadHandle:
        result, fd = await self._call_with_descriptor("open_read", path=path, offset=offset)
        return LocalReadHandle(fd, int(result["size"]), offset, path)

    async def open_write(
        self, path: str, *, offset: int = 0, append: bool = False, mode: int = 0o666,
        exclusive: bool = False, truncate: bool = True, atomic: bool = False,
    ) -> ForwardedWriteHandle:
        result, fd = await self._call_with_descriptor(
            "open_write", path=path, offset=offset, append=append, mode=mode,
            exclusive=exclusive, truncate=truncate, atomic=atomic,
        )
        handle = ForwardedWriteHandle(self, fd, int(result["upload"]), path,
                                      int(result["position"]))
        owner = self._upload_owner
        if owner is not None:
            try:
                await asyncio.to_thread(os.fchown, fd, owner.uid, owner.gid)
                await asyncio.to_thread(os.fchmod, fd, owner.mode)
            except OSError as exc:
                await handle.abort(delete=True)
                raise storage_error_from(exc, path) from exc
        return handle

    async def mkdir(self, path: str, mode: int = 0o777) -> None:
        await self.call("mkdir", path=path, mode=mode)

    async def rmdir(self, path: str) -> None:
        await self.call("rmdir", path=path)

    async def remove(self, path: str) -> None:
        await self.call("remove", path=path)

    async def rename(self, source: str, target: str) -> None:
        await self.call("rename", source=source, target=target)

    async def chmod(self, path: str, mode: int) -> None:
        await self.call("chmod", path=path, mode=mode)

    async def set_mtime(self, path: str, mtime: float) -> None:
        await self.call("set_mtime", path=path, mtime=mtime)

    async def space(self, path: str) -> SpaceInfo:
        result = await self.call("space", path=path)
        try:
            return SpaceInfo(**result)
        except TypeError as exc:
            raise FileProcessError("space: malformed reply") from exc

    async def close(self) -> None:
        """Hang up; the process aborts what is still open and exits."""
        with self._lock:
            self._sock.close()


def _file_stat(entry: Any) -> FileStat:
    try:
        return FileStat(**entry)
    except TypeError as exc:
        raise FileProcessError("malformed file metadata from the file process") from exc
