"""OpenSSH's StrictModes for a system user's ~/.ssh/authorized_keys: the file, and every
folder above it up to the home folder (~/.ssh and ~ itself), must belong to the user or root
and be writable by nobody else; otherwise anyone who could write there could plant a key.
The walk follows OpenSSH's auth_secure_path(): on the resolved path, upwards, stopping at the
resolved home folder (or at / when the file lies outside it).
"""

from __future__ import annotations

import os
import stat

_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


def _ownership_refusal(path: str, info: os.stat_result, uid: int, kind: str) -> str | None:
    if info.st_uid not in (0, uid):
        return f"{kind} {path} belongs to uid {info.st_uid}, not to the user or root"
    if info.st_mode & stat.S_IWGRP:
        return f"{kind} {path} is writable by its group (mode {info.st_mode & 0o7777:04o})"
    if info.st_mode & stat.S_IWOTH:
        return f"{kind} {path} is writable by others (mode {info.st_mode & 0o7777:04o})"
    return None


def key_file_refusal(path: str, info: os.stat_result, uid: int, home: str) -> str | None:
    """Why the keys file at `path` (already opened: `info` is its fstat) must not be trusted
    for the user `uid` whose home is `home`, or None when it may be. Blocking (stat calls)."""
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file"
    refusal = _ownership_refusal(path, info, uid, "file")
    if refusal is not None:
        return refusal
    real_home = os.path.realpath(home)
    folder = os.path.realpath(path)
    while True:
        folder = os.path.dirname(folder)
        try:
            folder_info = os.stat(folder)
        except OSError as exc:
            return f"folder {folder}: {exc.strerror}"
        refusal = _ownership_refusal(folder, folder_info, uid, "folder")
        if refusal is not None:
            return refusal
        if folder in (real_home, "/"):
            return None
