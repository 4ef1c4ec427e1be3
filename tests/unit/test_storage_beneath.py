"""Reaching paths beneath a root without following links: a swapped-in link is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ferryd.storage.beneath import open_folder, parent_of


def test_a_real_folder_is_reached_and_a_link_on_the_way_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "link").symlink_to(tmp_path)
    fd = open_folder(str(root), str(root / "a" / "b"))
    try:
        assert os.stat(".", dir_fd=fd).st_ino == (root / "a" / "b").stat().st_ino
    finally:
        os.close(fd)
    with pytest.raises(OSError):  # ENOTDIR: the component is a link, not a folder
        open_folder(str(root), str(root / "link"))
    with pytest.raises(OSError):
        open_folder(str(root), str(root / "a" / ".." / "link"))


def test_parent_of_gives_the_folder_and_the_name(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f.txt").write_bytes(b"x")
    with parent_of(str(tmp_path), str(tmp_path / "sub" / "f.txt")) as (folder, name):
        assert name == "f.txt"
        assert os.stat(name, dir_fd=folder).st_size == 1
    with parent_of(str(tmp_path), str(tmp_path)) as (folder, name):
        assert name == "."
