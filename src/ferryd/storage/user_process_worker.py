"""The file process of one system user's session: it runs as that user and does the file work.

ferryd, when root, serves a system user (local_enable) through a process forked for the
session that has dropped to the user's uid, gid and groups (and, for a jailed user, chrooted
into the jail) before it reads a single request. Every open, create, rename and unlink is
therefore the kernel's decision for that user, and what they create belongs to them. Opened
files go back to ferryd as descriptors, so transfers move bytes without another hop.

This module is imported by the fork server before it forks (see user_process.py), so the
child never has to import anything after it lost root.
"""

from __future__ import annotations

import asyncio
import concurrent.futures.thread  # noqa: F401 - asyncio.to_thread needs it after chroot
import contextlib
import dataclasses
import os
import socket
from dataclasses import dataclass
from typing import Any

from ferryd.storage.errors import StorageError, StorageIOError
from ferryd.storage.local import LocalFileSystem, LocalWriteHandle
from ferryd.storage.process_wire import WireError, encode_error, receive_message, send_message


@dataclass(frozen=True)
class FileProcessSpec:
    """Who the file process becomes and which tree it serves."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    root: str
    jail: bool  # chroot into root (defence in depth beside LocalFileSystem's confinement)
    lock_files: bool


def drop_privileges(spec: FileProcessSpec) -> None:
    """chroot (when jailed), then the user's groups, gid and uid: irreversibly."""
    if spec.jail:
        os.chroot(spec.root)
        os.chdir("/")
    os.setgroups(list(spec.groups))
    os.setgid(spec.gid)
    os.setuid(spec.uid)
    os.umask(0)  # the session applies local_umask / anon_umask to every mode it asks for
    if os.getuid() != spec.uid or os.geteuid() != spec.uid or (spec.uid != 0 and _can_regain()):
        raise SystemExit("ferryd file process: could not drop privileges")


def _can_regain() -> bool:
    try:
        os.setuid(0)
    except PermissionError:
        return False
    return True


def run_file_process(sock: socket.socket, spec: FileProcessSpec) -> None:
    """The body of the forked process: drop privileges, then answer until ferryd hangs up."""
    loop = asyncio.new_event_loop()  # before the chroot: it opens what it needs now
    drop_privileges(spec)
    file_system = LocalFileSystem("/" if spec.jail else spec.root, lock_files=spec.lock_files)
    served = _FileRequests(file_system)
    try:
        while True:
            try:
                message, fds = receive_message(sock)
            except (WireError, OSError, ValueError):
                break
            for fd in fds:  # ferryd never sends descriptors; never keep one
                os.close(fd)
            reply, out_fds = loop.run_until_complete(served.answer(message))
            try:
                send_message(sock, reply, out_fds)
            except OSError:
                break
            finally:
                for fd in out_fds:
                    os.close(fd)
    finally:
        loop.run_until_complete(served.abort_all())
        loop.close()
        sock.close()


class _FileRequests:
    """One request -> one LocalFileSystem call, as the user."""

    def __init__(self, file_system: LocalFileSystem) -> None:
        self._fs = file_system
        self._uploads: dict[int, LocalWriteHandle] = {}
        self._next_upload = 1

    async def answer(self, message: dict[str, Any]) -> tuple[dict[str, Any], tuple[int, ...]]:
        try:
            return await self._dispatch(str(message.get("op")), message.get("args") or {})
        except StorageError as exc:
            return {"error": encode_error(exc)}, ()
        except (TypeError, ValueError, KeyError) as exc:
            return {"error": encode_error(StorageIOError(f"bad request: {exc}"))}, ()

    async def _dispatch(
        self, op: str, args: dict[str, Any]
    ) -> tuple[dict[str, Any], tuple[int, ...]]:
        fs = self._fs
        if op in ("stat", "lstat"):
            found = await (fs.stat if op == "stat" else fs.lstat)(str(args["path"]))
            return {"ok": dataclasses.asdict(found)}, ()
        if op == "list_dir":
            entries = await fs.list_dir(str(args["path"]))
            return {"ok": [dataclasses.asdict(entry) for entry in entries]}, ()
        if op == "open_read":
            handle = await fs.open_read(str(args["path"]), int(args["offset"]))
            fd = handle.fileno()
            assert fd is not None
            return {"ok": {"size": handle.size}}, (fd,)  # closed by the caller after sending
        if op == "open_write":
            return await self._open_write(args)
        if op in ("commit", "abort"):
            upload = self._uploads.pop(int(args["upload"]))
            if op == "commit":
                await upload.commit()
            else:
                await upload.abort(delete=bool(args["delete"]))
            return {"ok": None}, ()
        if op == "space":
            return {"ok": dataclasses.asdict(await fs.space(str(args["path"])))}, ()
        return await self._change_names(op, args)

    async def _open_write(self, args: dict[str, Any]) -> tuple[dict[str, Any], tuple[int, ...]]:
        handle = await self._fs.open_write(
            str(args["path"]), offset=int(args["offset"]), append=bool(args["append"]),
            mode=int(args["mode"]), exclusive=bool(args["exclusive"]),
            truncate=bool(args["truncate"]), atomic=bool(args["atomic"]),
        )
        fd = handle.fileno()
        assert fd is not None
        number, self._next_upload = self._next_upload, self._next_upload + 1
        self._uploads[number] = handle
        return {"ok": {"upload": number, "position": handle.position}}, (os.dup(fd),)

    async def _change_names(
        self, op: str, args: dict[str, Any]
    ) -> tuple[dict[str, Any], tuple[int, ...]]:
        fs, path = self._fs, str(args.get("path", ""))
        if op == "mkdir":
            await fs.mkdir(path, int(args["mode"]))
        elif op == "rmdir":
            await fs.rmdir(path)
        elif op == "remove":
            await fs.remove(path)
        elif op == "rename":
            await fs.rename(str(args["source"]), str(args["target"]))
        elif op == "chmod":
            await fs.chmod(path, int(args["mode"]))
        elif op == "set_mtime":
            await fs.set_mtime(path, float(args["mtime"]))
        else:
            raise StorageIOError(f"unknown request {op!r}")
        return {"ok": None}, ()

    async def abort_all(self) -> None:
        uploads, self._uploads = self._uploads, {}
        for upload in uploads.values():
            with contextlib.suppress(StorageError, OSError):
                await upload.abort(delete=False)
