"""Hidden partial uploads left behind by a crash (SIGKILL, power loss): found and removed.

An atomic upload lives under a hidden `.ferryd-upload.*` name until its commit renames it, and
an aborted one is removed; only a process that dies mid-upload leaves one behind. Such files
are never listed or reachable, but they hold disk space. A running upload writes its file at
least every data_connection_timeout (or is aborted), so a partial untouched for a day belongs
to nobody; the sweep removes only those, so a second ferryd on shared storage is safe.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable

from ferryd.storage.local import ATOMIC_UPLOAD_PREFIX

STALE_AFTER_SECONDS = 24 * 3600


def remove_stale_uploads(
    roots: Iterable[str], *, older_than: float = STALE_AFTER_SECONDS,
    now: float | None = None, budget_files: int = 1_000_000,
) -> int:
    """Remove stale hidden partials under each root (blocking; run it in a thread). Symlinks
    are never followed; only regular files with the hidden prefix are touched. Stops after
    looking at `budget_files` entries. Returns how many were removed."""
    cutoff = (time.time() if now is None else now) - older_than
    removed, seen = 0, 0
    for root in dict.fromkeys(roots):  # each root once, in order
        for folder, folders, files in os.walk(root, followlinks=False):
            folders[:] = [name for name in folders if not name.startswith(ATOMIC_UPLOAD_PREFIX)]
            for name in files:
                seen += 1
                if seen > budget_files:
                    return removed
                if name.startswith(ATOMIC_UPLOAD_PREFIX) and _stale(folder, name, cutoff):
                    try:
                        os.unlink(os.path.join(folder, name))
                    except OSError:
                        continue
                    removed += 1
    return removed


def _stale(folder: str, name: str, cutoff: float) -> bool:
    try:
        info = os.lstat(os.path.join(folder, name))
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff
