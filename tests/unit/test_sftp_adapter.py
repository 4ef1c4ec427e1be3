"""The SFTP adapter without a network: every asyncssh method overridden with an async call into
a real FileSession over a LocalFileSystem, transfers recorded, errors mapped by the table."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from ferryd.audit.records import Direction, EventRecord, TransferRecord
from ferryd.policy.permissions import (
    NameFilter,
    PermissionRules,
    parse_name_patterns,
    permissions_from_vsftpd,
)
from ferryd.session.file_session import FileSession, SessionPolicy
from ferryd.session.listing import ListingStyle
from ferryd.session.transfers import TransferContext
from ferryd.sftp.file_handles import DownloadHandle, UploadHandle
from ferryd.sftp.file_server import SessionSftpServer
from ferryd.storage.local import LocalFileSystem


def public_methods(cls: type) -> list[str]:
    return sorted(
        name for name, value in inspect.getmembers(cls)
        if not name.startswith("_") and not isinstance(inspect.getattr_static(cls, name),
                                                       property)
        and callable(value)
    )


def ferryd_classes() -> list[type]:
    """SessionSftpServer and the classes it is made of, asyncssh's own left out."""
    return [cls for cls in SessionSftpServer.__mro__ if cls.__module__.startswith("ferryd.")]


def test_every_public_sftp_server_method_is_overridden_with_an_async_one() -> None:
    names = public_methods(asyncssh.SFTPServer)
    assert len(names) >= 30, names  # asyncssh 2.x: open, read, ..., fsync, exit
    for name in names:
        owners = [cls for cls in SessionSftpServer.__mro__ if name in cls.__dict__]
        assert owners[0] in ferryd_classes(), f"{name} falls back to asyncssh's default"
        method = owners[0].__dict__[name]
        assert inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method), name


def test_the_adapter_s_classes_stay_small() -> None:
    """House rule: classes under ~25 methods."""
    for cls in ferryd_classes():
        methods = [value for value in cls.__dict__.values()
                   if inspect.isfunction(value) or isinstance(value, property)]
        assert len(methods) <= 25, (cls.__name__, len(methods))


def test_properties_are_asyncssh_s_own() -> None:
    for name in ("channel", "connection", "env", "logger"):
        for cls in ferryd_classes():
            assert name not in cls.__dict__, (cls.__name__, name)


class RecordingAudit:
    def __init__(self) -> None:
        self.transfers: list[TransferRecord] = []
        self.events: list[EventRecord] = []

    def transfer(self, record: TransferRecord) -> None:
        self.transfers.append(record)

    def event(self, record: EventRecord) -> None:
        self.events.append(record)

    def protocol_line(self, user: str, client_address: str, inbound: bool, line: str) -> None:
        del user, client_address, inbound, line


class FakeChannel:
    def __init__(self) -> None:
        self.closing = False
        self.exit_status: int | None = None

    def is_closing(self) -> bool:
        return self.closing

    def exit(self, status: int) -> None:
        self.exit_status = status
        self.closing = True


class FakeConnection:
    def __init__(self) -> None:
        self.requests = 0
        self.open_files = 0

    def touch(self) -> None:
        self.requests += 1

    def file_opened(self) -> None:
        self.open_files += 1

    def file_closed(self) -> None:
        self.open_files -= 1


class Rig:
    def __init__(self, root: Path, *, write: bool = True, deny: str | None = None) -> None:
        self.root = root
        self.audit = RecordingAudit()
        self.channel = FakeChannel()
        self.connection = FakeConnection()
        permissions = permissions_from_vsftpd(
            write_enable=write, download_enable=True, dirlist_enable=True, chmod_enable=True,
            mdtm_write=True,
        )
        policy = SessionPolicy(
            permissions=PermissionRules(default=permissions),
            names=NameFilter(denied=parse_name_patterns(deny), hidden=()),
            umask=0o022, file_open_mode=0o666,
        )
        session = FileSession(
            file_system=LocalFileSystem(str(root)), policy=policy,
            context=TransferContext(protocol="sftp", user="alice", client_address="192.0.2.7",
                                    audit=self.audit, max_rate=0),
        )
        self.server = SessionSftpServer(
            self.channel, self.connection, session, ListingStyle()  # type: ignore[arg-type]
        )


def run(step: Callable[[Rig], Awaitable[Any]], rig: Rig) -> Any:
    return asyncio.run(step(rig))


WRITE_NEW = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC


def test_upload_out_of_order_then_download_at_offsets_are_recorded(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    payload = os.urandom(300_000)

    async def step(rig: Rig) -> bytes:
        server = rig.server
        handle = await server.open(b"/up.bin", WRITE_NEW, asyncssh.SFTPAttrs())
        assert isinstance(handle, UploadHandle)
        # the second half first, as a pipelining client may send it
        assert await server.write(handle, 150_000, payload[150_000:]) == 150_000
        assert await server.write(handle, 0, payload[:150_000]) == 150_000
        await server.close(handle)
        handle = await server.open(b"up.bin", asyncssh.FXF_READ, asyncssh.SFTPAttrs())
        assert isinstance(handle, DownloadHandle)
        tail = await server.read(handle, 200_000, 1 << 20)
        head = await server.read(handle, 0, 200_000)
        assert await server.read(handle, 300_000, 10) == b""
        await server.close(handle)
        return head + tail

    assert run(step, rig) == payload
    assert (tmp_path / "up.bin").read_bytes() == payload
    upload, download = rig.audit.transfers
    assert (upload.direction, upload.bytes_transferred, upload.complete) == (
        Direction.UPLOAD, 300_000, True)
    assert (download.direction, download.bytes_transferred, download.complete) == (
        Direction.DOWNLOAD, 300_000, True)
    assert upload.protocol == "sftp" and upload.path == "/up.bin"
    assert rig.connection.open_files == 0


def test_handles_still_open_when_the_channel_goes_are_incomplete(tmp_path: Path) -> None:
    rig = Rig(tmp_path)

    async def step(rig: Rig) -> None:
        handle = await rig.server.open(b"part.bin", WRITE_NEW, asyncssh.SFTPAttrs())
        await rig.server.write(handle, 0, b"half")
        rig.channel.closing = True  # asyncssh's cleanup closes what the client left open
        await rig.server.close(handle)

    run(step, rig)
    (record,) = rig.audit.transfers
    assert record.complete is False and record.bytes_transferred == 4


def test_open_without_truncate_keeps_the_file_for_a_resumed_upload(tmp_path: Path) -> None:
    (tmp_path / "resume.bin").write_bytes(b"0123456789")
    rig = Rig(tmp_path)

    async def step(rig: Rig) -> None:
        flags = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT
        handle = await rig.server.open(b"resume.bin", flags, asyncssh.SFTPAttrs())
        await rig.server.write(handle, 10, b"abc")
        await rig.server.close(handle)

    run(step, rig)
    assert (tmp_path / "resume.bin").read_bytes() == b"0123456789abc"


def test_modern_scp_overwrites_in_place_then_cuts_with_fsetstat(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_bytes(b"a much longer previous version\n")
    rig = Rig(tmp_path)

    async def step(rig: Rig) -> None:
        flags = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT  # what scp sends: no FXF_TRUNC
        handle = await rig.server.open(b"old.txt", flags, asyncssh.SFTPAttrs())
        await rig.server.write(handle, 0, b"short\n")
        await rig.server.fsetstat(handle, asyncssh.SFTPAttrs(size=6))
        await rig.server.close(handle)

    run(step, rig)
    assert (tmp_path / "old.txt").read_bytes() == b"short\n"


def sftp_code(step: Callable[[Rig], Awaitable[Any]], rig: Rig) -> int:
    with pytest.raises(asyncssh.SFTPError) as caught:
        run(step, rig)
    return caught.value.code


def test_refusals_carry_the_table_s_status(tmp_path: Path) -> None:
    (tmp_path / "there.txt").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    rig = Rig(tmp_path)
    server = rig.server
    assert sftp_code(lambda r: server.stat(b"nothing"), rig) == asyncssh.FX_NO_SUCH_FILE
    assert sftp_code(lambda r: server.rmdir(b"full"), rig) == asyncssh.FX_DIR_NOT_EMPTY
    assert sftp_code(lambda r: server.mkdir(b"full", asyncssh.SFTPAttrs()), rig) == (
        asyncssh.FX_FILE_ALREADY_EXISTS)
    assert sftp_code(lambda r: server.rename(b"full/f", b"there.txt"), rig) == (
        asyncssh.FX_FILE_ALREADY_EXISTS)
    assert sftp_code(lambda r: server.open(b"a\x00b", 0, asyncssh.SFTPAttrs()), rig) == (
        asyncssh.FX_INVALID_FILENAME)
    assert sftp_code(lambda r: server.link(b"there.txt", b"hard"), rig) == (
        asyncssh.FX_OP_UNSUPPORTED)
    assert sftp_code(lambda r: server.symlink(b"/etc", b"soft"), rig) == (
        asyncssh.FX_OP_UNSUPPORTED)
    assert sftp_code(lambda r: server.read(object(), 0, 1), rig) == asyncssh.FX_INVALID_HANDLE


def test_posix_rename_replaces_the_target(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("new")
    (tmp_path / "b").write_text("old")
    rig = Rig(tmp_path)
    run(lambda r: r.server.posix_rename(b"a", b"b"), rig)
    assert (tmp_path / "b").read_text() == "new" and not (tmp_path / "a").exists()


def test_read_only_user_is_refused_every_write(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    rig = Rig(tmp_path, write=False)
    server = rig.server
    denied = asyncssh.FX_PERMISSION_DENIED
    assert sftp_code(lambda r: server.open(b"new", WRITE_NEW, asyncssh.SFTPAttrs()), rig) == denied
    assert sftp_code(lambda r: server.remove(b"keep.txt"), rig) == denied
    assert sftp_code(lambda r: server.mkdir(b"d", asyncssh.SFTPAttrs()), rig) == denied
    assert sftp_code(lambda r: server.posix_rename(b"keep.txt", b"k2"), rig) == denied
    chmod = asyncssh.SFTPAttrs(permissions=0o600)
    assert sftp_code(lambda r: server.setstat(b"keep.txt", chmod), rig) == denied
    assert rig.audit.transfers == []


def test_setstat_changes_mode_and_time_and_refuses_size_and_owner(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    target.write_text("hello")
    rig = Rig(tmp_path)
    run(lambda r: r.server.setstat(b"t.txt", asyncssh.SFTPAttrs(
        permissions=0o100640, atime=1_000_000_000, mtime=1_000_000_000)), rig)
    assert (target.stat().st_mode & 0o777, int(target.stat().st_mtime)) == (0o640, 1_000_000_000)
    assert sftp_code(lambda r: r.server.setstat(b"t.txt", asyncssh.SFTPAttrs(size=1)), rig) == (
        asyncssh.FX_OP_UNSUPPORTED)
    same_size = asyncssh.SFTPAttrs(size=5)
    run(lambda r: r.server.setstat(b"t.txt", same_size), rig)
    other_owner = asyncssh.SFTPAttrs(uid=target.stat().st_uid + 1, gid=target.stat().st_gid)
    assert sftp_code(lambda r: r.server.setstat(b"t.txt", other_owner), rig) == (
        asyncssh.FX_PERMISSION_DENIED)


def test_listing_has_dot_entries_longnames_and_hides_nothing_visible(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("bb")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "日本語.txt").write_text("x")
    rig = Rig(tmp_path)

    async def step(rig: Rig) -> list[asyncssh.SFTPName]:
        return [name async for name in rig.server.scandir(b"/")]

    names = run(step, rig)
    assert [n.filename for n in names] == [
        b".", b"..", b"a.txt", b"b.txt", "日本語.txt".encode()]
    assert names[3].attrs.size == 2 and names[3].attrs.type == asyncssh.FILEXFER_TYPE_REGULAR
    assert names[3].longname.startswith(b"-rw-") and names[3].longname.endswith(b" b.txt")


def test_deny_file_is_refused_like_ftp(tmp_path: Path) -> None:
    (tmp_path / "x.secret").write_text("s")
    rig = Rig(tmp_path, deny="*.secret")
    assert sftp_code(lambda r: r.server.stat(b"x.secret"), rig) == asyncssh.FX_PERMISSION_DENIED


def test_paths_cannot_leave_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside.txt").write_text("secret")
    os.symlink(tmp_path / "outside.txt", root / "escape")
    os.symlink("../outside.txt", root / "relative-escape")
    rig = Rig(root)
    assert run(lambda r: r.server.realpath(b"../../.."), rig) == b"/"
    assert run(lambda r: r.server.realpath(b"a/../../b"), rig) == b"/b"
    assert sftp_code(lambda r: r.server.open(b"escape", 0, asyncssh.SFTPAttrs()), rig) == (
        asyncssh.FX_PERMISSION_DENIED)
    assert sftp_code(lambda r: r.server.stat(b"../outside.txt"), rig) == asyncssh.FX_NO_SUCH_FILE
    assert sftp_code(lambda r: r.server.readlink(b"escape"), rig) == (
        asyncssh.FX_PERMISSION_DENIED)
    assert sftp_code(lambda r: r.server.readlink(b"relative-escape"), rig) == (
        asyncssh.FX_PERMISSION_DENIED)


def test_statvfs_fsync_and_exit(tmp_path: Path) -> None:
    rig = Rig(tmp_path)

    async def step(rig: Rig) -> asyncssh.SFTPVFSAttrs:
        handle = await rig.server.open(b"f", WRITE_NEW, asyncssh.SFTPAttrs())
        await rig.server.write(handle, 0, b"data")
        await rig.server.fsync(handle)
        space = await rig.server.fstatvfs(handle)
        await rig.server.close(handle)
        await rig.server.exit()
        return space

    space = run(step, rig)
    assert space.bsize > 0 and space.blocks > 0 and space.namemax > 0
    assert rig.channel.exit_status == 0
