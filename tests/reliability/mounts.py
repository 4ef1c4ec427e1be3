"""Small file systems a test mounts over a user's home: a full disk, a read-only one.

Needs CAP_SYS_ADMIN (root on a normal machine, not in every container): a test that cannot
mount is skipped with the reason, never passed."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount(arguments: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *arguments], capture_output=True, text=True, timeout=30,
                          check=False)


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of `size` mounted on `where` (which must exist) for the block's duration."""
    result = _mount(["-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)])
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (mount said: {result.stderr.strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "--lazy", str(where)], capture_output=True, timeout=30,
                       check=False)


def remount_read_only(where: Path) -> None:
    result = _mount(["-o", "remount,ro", str(where)])
    assert result.returncode == 0, result.stderr


def free_bytes(where: Path) -> int:
    stats = os.statvfs(where)
    return stats.f_bavail * stats.f_frsize
