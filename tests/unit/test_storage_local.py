"""LocalFileSystem's confinement to its root (`..`, symlinks, NUL) and its errno mapping.
I/O, but fast: everything happens under tmp_path."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ferryd.storage.errors import (
    AccessDenied,
    DirectoryNotEmpty,
    FileBusy,
    IsADirectory,
    NoSpace,
    NotADirectory,
    OutsideRoot,
    PathExists,
    PathNotFound,
    StorageError,
    StorageIOError,
    storage_error_from,
)
from ferryd.storage.local import LocalFileSystem

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """tmp/home (the root) with files and links; tmp/outside and tmp/home2 beside it."""
    home = tmp_path / "home"
    (home / "pub" / "deep").mkdir(parents=True)
    (home / "pub" / "a.txt").write_bytes(b"inside")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    sibling = tmp_path / "home2"  # shares a name prefix with the root
    sibling.mkdir()
    (sibling / "x.txt").write_bytes(b"sibling")
    links = {
        "abs-out": str(outside / "secret.txt"),  # absolute link out
        "rel-out": "../outside/secret.txt",  # relative link out
        "dir-out": str(outside),  # a symlinked folder out
        "sibling": "../home2",  # prefix trick: /tmp/home2 starts with /tmp/home
        "in-file": "pub/a.txt",  # a link that stays inside
        "in-dir": "pub",
        "abs-in": str(home / "pub" / "a.txt"),
        "dangling": "no-such-file",
        "dangling-out": "../outside/planted.txt",
        "loop": "loop",
    }
    for name, target in links.items():
        (home / name).symlink_to(target)
    (home / "pub" / "up-out").symlink_to("../../outside")
    return home


@pytest.fixture
def fs(tree: Path) -> LocalFileSystem:
    return LocalFileSystem(str(tree), lock_files=False)


# -- os_path ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("virtual", "relative"),
    [
        ("/", ""),
        ("", ""),
        ("//", ""),
        ("/pub/a.txt", "pub/a.txt"),
        ("pub/a.txt", "pub/a.txt"),
        ("//pub//a.txt/", "pub/a.txt"),
        ("/pub/./deep/..", "pub"),
        ("/../../pub", "pub"),  # `..` stops at the root
        ("/pub/../../../../a", "a"),
        ("/in-file", "pub/a.txt"),  # followed, and inside
        ("/in-dir/deep", "pub/deep"),
        ("/abs-in", "pub/a.txt"),
        ("/new/name", "new/name"),  # need not exist
    ],
)
def test_os_path_inside(fs: LocalFileSystem, tree: Path, virtual: str, relative: str) -> None:
    assert fs.os_path(virtual) == (str(tree / relative) if relative else str(tree))


@pytest.mark.parametrize(
    "virtual",
    [
        "/abs-out",
        "/rel-out",
        "/dir-out",
        "/dir-out/secret.txt",  # through a symlinked parent folder
        "/dir-out/new.txt",  # ... even to create a file
        "/sibling",
        "/sibling/x.txt",
        "/pub/up-out",
        "/pub/up-out/secret.txt",
        "/in-dir/up-out/secret.txt",
    ],
)
def test_os_path_refuses_symlinks_that_leave_the_root(fs: LocalFileSystem, virtual: str) -> None:
    with pytest.raises(OutsideRoot, match="outside the user's root") as raised:
        fs.os_path(virtual)
    assert str(Path(fs.root).parent) not in str(raised.value)  # the virtual path, not the OS one


@pytest.mark.parametrize("virtual", ["/a\x00b", "\x00", "/pub/a.txt\x00.jpg"])
def test_os_path_refuses_nul(fs: LocalFileSystem, virtual: str) -> None:
    with pytest.raises(OutsideRoot, match="NUL"):
        fs.os_path(virtual)


@pytest.mark.parametrize(
    "name", ["abs-out", "rel-out", "dir-out", "dangling", "dangling-out", "in-file"]
)
def test_follow_false_keeps_the_link_itself(fs: LocalFileSystem, tree: Path, name: str) -> None:
    assert fs.os_path(f"/{name}", follow=False) == str(tree / name)


def test_follow_false_still_resolves_and_checks_the_parent(
    fs: LocalFileSystem, tree: Path
) -> None:
    assert fs.os_path("/in-dir/a.txt", follow=False) == str(tree / "pub" / "a.txt")
    with pytest.raises(OutsideRoot):
        fs.os_path("/dir-out/secret.txt", follow=False)
    with pytest.raises(OutsideRoot):
        fs.os_path("/sibling/x.txt", follow=False)


def test_the_root_may_itself_be_a_symlink(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "root-link").symlink_to(tree)
    fs = LocalFileSystem(str(tmp_path / "root-link"), lock_files=False)
    assert fs.root == str(tree)
    assert fs.os_path("/pub/a.txt") == str(tree / "pub" / "a.txt")
    with pytest.raises(OutsideRoot):
        fs.os_path("/abs-out")


# -- the operations keep to the root ------------------------------------------------------------


def test_reading_through_links(fs: LocalFileSystem) -> None:
    async def read(path: str) -> bytes:
        handle = await fs.open_read(path)
        try:
            return await handle.read(100)
        finally:
            await handle.close()

    assert run(read("/in-file")) == b"inside"
    for path in ("/abs-out", "/rel-out", "/dir-out/secret.txt", "/pub/up-out/secret.txt"):
        with pytest.raises(OutsideRoot):
            run(read(path))


@pytest.mark.parametrize("name", ["abs-out", "rel-out", "in-file", "dangling", "dangling-out"])
def test_open_write_refuses_a_symlink_target(fs: LocalFileSystem, tree: Path, name: str) -> None:
    with pytest.raises(OutsideRoot):  # O_NOFOLLOW: ELOOP
        run(fs.open_write(f"/{name}"))
    assert (tree.parent / "outside" / "secret.txt").read_bytes() == b"secret"
    assert (tree / "pub" / "a.txt").read_bytes() == b"inside"
    assert not (tree / "no-such-file").exists()  # a dangling link's target is not created
    assert not (tree.parent / "outside" / "planted.txt").exists()


def test_nothing_is_made_through_a_symlinked_parent_out(fs: LocalFileSystem, tree: Path) -> None:
    with pytest.raises(OutsideRoot):
        run(fs.open_write("/dir-out/planted.txt"))
    with pytest.raises(OutsideRoot):
        run(fs.mkdir("/dir-out/planted"))
    with pytest.raises(OutsideRoot):
        run(fs.rename("/pub/a.txt", "/dir-out/planted.txt"))
    with pytest.raises(OutsideRoot):
        run(fs.chmod("/abs-out", 0o777))
    with pytest.raises(OutsideRoot):
        run(fs.set_mtime("/dangling-out", 0))
    assert sorted(os.listdir(tree.parent / "outside")) == ["secret.txt"]
    assert (tree.parent / "outside" / "secret.txt").stat().st_mode & 0o777 != 0o777


def test_open_write_inside_works(fs: LocalFileSystem, tree: Path) -> None:
    async def write() -> None:
        handle = await fs.open_write("/pub/new.txt")
        await handle.write(b"hello")
        await handle.commit()

    run(write())
    assert (tree / "pub" / "new.txt").read_bytes() == b"hello"


def test_remove_and_rename_act_on_the_link_not_its_target(
    fs: LocalFileSystem, tree: Path
) -> None:
    run(fs.remove("/abs-out"))
    assert not (tree / "abs-out").is_symlink()
    assert (tree.parent / "outside" / "secret.txt").read_bytes() == b"secret"
    run(fs.rename("/rel-out", "/renamed"))
    assert (tree / "renamed").is_symlink()
    assert (tree.parent / "outside" / "secret.txt").exists()


def test_lstat_shows_the_link_and_stat_refuses_it(fs: LocalFileSystem) -> None:
    link = run(fs.lstat("/abs-out"))
    assert link.is_symlink
    assert link.name == "abs-out"
    assert link.link_target is not None and link.link_target.endswith("secret.txt")
    with pytest.raises(OutsideRoot):
        run(fs.stat("/abs-out"))


def test_listing_does_not_stat_through_links_that_leave(fs: LocalFileSystem) -> None:
    entries = {entry.name: entry for entry in run(fs.list_dir("/"))}
    assert entries["abs-out"].is_symlink  # the link's own metadata, not the secret file's
    assert entries["dir-out"].is_symlink
    assert entries["in-file"].is_file and entries["in-file"].size == len(b"inside")
    assert entries["dangling"].is_symlink
    assert entries["pub"].is_dir


def test_the_root_cannot_be_removed_or_renamed(fs: LocalFileSystem) -> None:
    with pytest.raises(AccessDenied):
        run(fs.rmdir("/"))
    with pytest.raises(AccessDenied):
        run(fs.rename("/", "/x"))
    with pytest.raises(AccessDenied):
        run(fs.rename("/pub", "/.."))


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        (errno.ENOENT, PathNotFound),
        (errno.EEXIST, PathExists),
        (errno.ENOTDIR, NotADirectory),
        (errno.EISDIR, IsADirectory),
        (errno.ENOTEMPTY, DirectoryNotEmpty),
        (errno.EACCES, AccessDenied),
        (errno.EPERM, AccessDenied),
        (errno.EROFS, AccessDenied),
        (errno.ELOOP, OutsideRoot),
        (errno.ENOSPC, NoSpace),
        (errno.EDQUOT, NoSpace),
        (errno.EFBIG, NoSpace),
        (errno.EAGAIN, FileBusy),
        (errno.EWOULDBLOCK, FileBusy),
        (errno.ENAMETOOLONG, StorageIOError),
        (errno.EIO, StorageIOError),
        (errno.EXDEV, StorageIOError),
    ],
)
def test_errno_to_error_class(number: int, kind: type[StorageError]) -> None:
    error = storage_error_from(OSError(number, os.strerror(number), "/srv/os/path"), "/v/path")
    assert type(error) is kind
    assert str(error) == f"/v/path: {os.strerror(number)}"
    assert "/srv/os/path" not in str(error)


def test_an_oserror_without_errno_is_an_io_error() -> None:
    error = storage_error_from(OSError("weird"), "/v")
    assert type(error) is StorageIOError
    assert str(error) == f"/v: {os.strerror(errno.EIO)}"


def test_real_failures_name_the_virtual_path_and_chain_the_cause(
    fs: LocalFileSystem, tree: Path
) -> None:
    with pytest.raises(PathNotFound, match=r"^/pub/missing: No such file") as raised:
        run(fs.stat("/pub/missing"))
    assert str(tree) not in str(raised.value)
    assert isinstance(raised.value.__cause__, FileNotFoundError)
    with pytest.raises(PathExists):
        run(fs.mkdir("/pub"))
    with pytest.raises(DirectoryNotEmpty):
        run(fs.rmdir("/pub"))
    with pytest.raises(IsADirectory):
        run(fs.remove("/pub"))
    with pytest.raises(IsADirectory):
        run(fs.open_read("/pub"))
    with pytest.raises(NotADirectory):
        run(fs.list_dir("/pub/a.txt"))
    with pytest.raises(OutsideRoot):  # a symlink loop is refused, not followed forever
        run(fs.open_read("/loop"))
