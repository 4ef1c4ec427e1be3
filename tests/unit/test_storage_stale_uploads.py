"""The sweep of hidden partials a crash left behind: only stale ones, never through links."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ferryd.storage.local import ATOMIC_UPLOAD_PREFIX
from ferryd.storage.stale_uploads import STALE_AFTER_SECONDS, remove_stale_uploads


def test_only_stale_hidden_partials_go(tmp_path: Path) -> None:
    home, outside = tmp_path / "home", tmp_path / "outside"
    (home / "inbox").mkdir(parents=True)
    outside.mkdir()
    long_ago = time.time() - STALE_AFTER_SECONDS - 60
    stale = home / "inbox" / f"{ATOMIC_UPLOAD_PREFIX}0123456789abcdef"
    fresh = home / f"{ATOMIC_UPLOAD_PREFIX}fedcba9876543210"
    old_but_ordinary = home / "report.csv"
    beyond_a_link = outside / f"{ATOMIC_UPLOAD_PREFIX}00000000ffffffff"
    for path in (stale, fresh, old_but_ordinary, beyond_a_link):
        path.write_bytes(b"partial")
    for path in (stale, old_but_ordinary, beyond_a_link):
        os.utime(path, (long_ago, long_ago))
    (home / "link").symlink_to(outside)
    assert remove_stale_uploads([str(home), str(home)]) == 1
    assert not stale.exists()
    assert fresh.exists() and old_but_ordinary.exists() and beyond_a_link.exists()
    assert remove_stale_uploads([str(tmp_path / "missing")]) == 0
