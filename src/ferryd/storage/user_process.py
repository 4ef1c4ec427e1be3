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
import stat
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ferryd.storage.errors import StorageError, StorageIOError
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


PrivilegedHandler = Callable[[dict[str, Any], list[int]], Any]
"""Runs in a privileged helper (root): a request's JSON arguments and descriptors -> a JSON
value. Once ferryd's network side has dropped root (app.py), the requests come from an
unprivileged process: a handler checks its arguments as untrusted input."""


class PrivilegedRequestError(Exception):
    """A privileged helper refused a request or could not carry it out."""


class PrivilegedHelper:
    """A single-threaded root process forked off ferryd at start-up, before any thread
    exists (so that its own forks are safe), answering requests one at a time: the work that
    needs root once ferryd's network side may not have it. Create it before the event loop
    starts any thread; `handlers` are fixed then (the child has them from the fork)."""

    def __init__(self, name: str, handlers: Mapping[str, PrivilegedHandler]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:  # the helper
            status = 0
            try:
                _keep_only_descriptor(theirs.fileno())
                _serve_forever(name, theirs, dict(handlers))
            except BaseException:
                status = 1
            finally:
                os._exit(status)
        theirs.close()
        self._sock = ours
        self._pid = pid
        self._lock = threading.Lock()

    def request(self, kind: str, args: dict[str, Any], fds: tuple[int, ...] = ()) -> Any:
        """Blocking (call it in a worker thread): the handler's reply, or PrivilegedRequestError."""
        try:
            with self._lock:
                send_message(self._sock, {"kind": kind, "args": args}, fds)
                reply, received = receive_message(self._sock)
        except (OSError, WireError, ValueError) as exc:
            raise PrivilegedRequestError(f"the privileged helper failed: {exc}") from exc
        for fd in received:
            os.close(fd)
        if "error" in reply:
            raise PrivilegedRequestError(str(reply["error"]))
        return reply.get("ok")

    def close(self) -> None:
        """Stop the helper; file processes it forked end when their sessions hang up."""
        with self._lock:
            self._sock.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self._pid, 0)


def _keep_only_descriptor(kept: int) -> None:
    """In a new helper: close what it inherited (another helper's socket would keep that
    helper from seeing ferryd hang up; the event loop's wake-up pipe is not its to write)."""
    signal.set_wakeup_fd(-1)
    os.closerange(3, kept)
    os.closerange(kept + 1, os.sysconf("SC_OPEN_MAX"))


def _serve_forever(name: str, requests: socket.socket,
                   handlers: dict[str, PrivilegedHandler]) -> None:
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
            handler = handlers[str(message.get("kind"))]
            args = message.get("args")
            if not isinstance(args, dict):
                raise ValueError("arguments expected")
            reply: dict[str, Any] = {"ok": handler(args, fds)}
        except Exception as exc:  # a refusal or failure is the reply, never the helper's end
            reply = {"error": f"{name}: {exc}"}
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
        send_message(requests, reply)


def _spawn_file_process(args: dict[str, Any], fds: list[int]) -> int:
    """In the helper: fork a process that becomes the spec's user; its pid."""
    spec = FileProcessSpec(**{**args, "groups": tuple(args["groups"])})
    if len(fds) != 1:
        raise ValueError("one socket expected")
    if spec.uid == 0 or spec.gid == 0:
        raise ValueError("a session never runs as root")
    child_end = os.dup(fds[0])
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        status = 0
        try:
            run_file_process(socket.socket(fileno=child_end), spec)
        except BaseException as exc:
            print(f"ferryd: file process for uid {spec.uid} failed: {exc!r}",
                  file=sys.stderr, flush=True)
            status = 1
        finally:
            os._exit(status)
    os.close(child_end)
    return pid


def _give_upload(args: dict[str, Any], fds: list[int]) -> None:
    """In the helper: chown_uploads, through the upload's descriptor (a regular file only,
    permission bits only)."""
    if len(fds) != 1:
        raise ValueError("one file expected")
    if not stat.S_ISREG(os.fstat(fds[0]).st_mode):
        raise ValueError("not a regular file")
    os.fchown(fds[0], int(args["uid"]), int(args["gid"]))
    os.fchmod(fds[0], int(args["mode"]) & 0o777)


class FileProcessLauncher:
    """Starts file processes (and gives anonymous uploads to chown_username) through a
    privileged helper. `extra_handlers`: more root work for the same helper (app.py's)."""

    def __init__(self, extra_handlers: Mapping[str, PrivilegedHandler] | None = None) -> None:
        self.helper = PrivilegedHelper("file-process spawner", {
            **(extra_handlers or {}), "spawn": _spawn_file_process, "give_upload": _give_upload,
        })

    async def start(
        self, spec: FileProcessSpec, upload_owner: UploadOwner | None = None
    ) -> UserProcessFileSystem:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            await asyncio.to_thread(self.helper.request, "spawn", dataclasses.asdict(spec),
                                    (theirs.fileno(),))
        except PrivilegedRequestError as exc:
            ours.close()
            raise FileProcessError(f"cannot start the file process: {exc}") from exc
        finally:
            theirs.close()
        giver = _UploadGiver(self.helper, upload_owner) if upload_owner is not None else None
        return UserProcessFileSystem(ours, giver)

    def close(self) -> None:
        self.helper.close()


@dataclass(frozen=True)
class _UploadGiver:
    helper: PrivilegedHelper
    owner: UploadOwner

    def give(self, fd: int) -> None:
        """Blocking."""
        owner = self.owner
        self.helper.request("give_upload",
                            {"uid": owner.uid, "gid": owner.gid, "mode": owner.mode}, (fd,))


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

    def __init__(self, sock: socket.socket, upload_giver: _UploadGiver | None = None) -> None:
        self._sock = sock
        self._upload_giver = upload_giver
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
        giver = self._upload_giver
        if giver is not None:
            try:
                await asyncio.to_thread(giver.give, fd)
            except PrivilegedRequestError as exc:
                await handle.abort(delete=True)
                raise FileProcessError(f"{path}: chown_uploads failed: {exc}") from exc
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
