"""Reaching a path inside a root without following a symbolic link on the way.

LocalFileSystem.os_path resolves a path and checks it stays inside the user's root; between
that check and the system call, someone with a shell on the machine could swap a folder on
the path for a symlink to elsewhere (a symlink race). So every operation reaches the folder
that holds its target one component at a time from a descriptor of the root, with
O_NOFOLLOW, and acts on the name inside it (the *at system calls): a component swapped for
a link fails with ENOTDIR or ELOOP instead of leading outside. Linux only, as ferryd is.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

_WALK_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_folder(root: str, folder: str) -> int:
    """An O_PATH descriptor of `folder` (root itself or a real path inside it), reached
    from root with no symlink followed. The caller closes it."""
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    relative = os.path.relpath(folder, root)
    if relative == ".":
        return fd
    try:
        for part in relative.split(os.sep):
            if part in ("", ".", ".."):
                raise OSError(40, "Too many levels of symbolic links", folder)  # ELOOP
            inner = os.open(part, _WALK_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def parent_of(root: str, os_path: str) -> Iterator[tuple[int, str]]:
    """(descriptor of the folder holding os_path, its name there); root itself is
    (descriptor of root, ".")."""
    if os_path == root:
        folder, name = root, "."
    else:
        folder, name = os.path.dirname(os_path), os.path.basename(os_path)
    fd = open_folder(root, folder)
    try:
        yield fd, name
    finally:
        os.close(fd)


def descriptor_path(fd: int) -> str:
    """A path that names exactly the inode behind fd (for chmod and utime on an O_PATH
    descriptor, which fchmod and futimens refuse)."""
    return f"/proc/self/fd/{fd}"
