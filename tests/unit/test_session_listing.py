"""`ls -l` lines as vsftpd writes them: widths, the six-month rule, hide_ids, user names."""

from __future__ import annotations

import calendar
import stat
import time
from collections.abc import Iterator

import pytest

from ferryd.session.listing import ListingStyle, long_line, sorted_entries
from ferryd.storage.protocol import FileStat

NOW = calendar.timegm((2026, 11, 27, 18, 32, 58, 0, 0, 0))
DAY = 24 * 3600


def entry(
    name: str = "name", *, mode: int = stat.S_IFREG | 0o644, size: int = 1234,
    mtime: float = NOW - 3600, nlink: int = 1, uid: int = 1000, gid: int = 1000,
    owner: str = "alice", group: str = "staff", link_target: str | None = None,
) -> FileStat:
    return FileStat(name=name, size=size, mtime=mtime, mode=mode, nlink=nlink, uid=uid, gid=gid,
                    owner=owner, group=group, link_target=link_target)


PLAIN = ListingStyle()

LINE_TABLE: list[tuple[str, FileStat, ListingStyle, str]] = [
    ("a file, as vsftpd", entry(), PLAIN,
     "-rw-r--r--    1 1000     1000         1234 Nov 27 17:32 name"),
    ("a folder", entry("sub", mode=stat.S_IFDIR | 0o755, size=4096, nlink=3), PLAIN,
     "drwxr-xr-x    3 1000     1000         4096 Nov 27 17:32 sub"),
    ("a symlink shows its target", entry("ln", mode=stat.S_IFLNK | 0o777, size=6,
                                         link_target="target"), PLAIN,
     "lrwxrwxrwx    1 1000     1000            6 Nov 27 17:32 ln -> target"),
    ("setuid, sticky", entry("s", mode=stat.S_IFREG | 0o4755), PLAIN,
     "-rwsr-xr-x    1 1000     1000         1234 Nov 27 17:32 s"),
    ("sticky folder", entry("tmp", mode=stat.S_IFDIR | 0o1777, size=0), PLAIN,
     "drwxrwxrwt    1 1000     1000            0 Nov 27 17:32 tmp"),
    ("sizes wider than eight digits push the line right",
     entry(size=12345678901), PLAIN,
     "-rw-r--r--    1 1000     1000     12345678901 Nov 27 17:32 name"),
    ("long ids push the line right", entry(uid=1234567890, gid=4294967294), PLAIN,
     "-rw-r--r--    1 1234567890 4294967294     1234 Nov 27 17:32 name"),
    ("many links", entry(nlink=123456), PLAIN,
     "-rw-r--r-- 123456 1000     1000         1234 Nov 27 17:32 name"),
    ("hide_ids", entry(), ListingStyle(hide_ids=True),
     "-rw-r--r--    1 ftp      ftp          1234 Nov 27 17:32 name"),
    ("text_userdb_names", entry(), ListingStyle(text_userdb_names=True),
     "-rw-r--r--    1 alice    staff        1234 Nov 27 17:32 name"),
    ("hide_ids wins over text_userdb_names", entry(),
     ListingStyle(hide_ids=True, text_userdb_names=True),
     "-rw-r--r--    1 ftp      ftp          1234 Nov 27 17:32 name"),
    ("spaces in the name are kept", entry(" two  spaces "), PLAIN,
     "-rw-r--r--    1 1000     1000         1234 Nov 27 17:32  two  spaces "),
    ("the day is zero-padded, as vsftpd's %d", entry(mtime=NOW - 26 * DAY), PLAIN,
     "-rw-r--r--    1 1000     1000         1234 Nov 01 18:32 name"),
]


@pytest.mark.parametrize(
    ("item", "style", "line"),
    [row[1:] for row in LINE_TABLE],
    ids=[row[0] for row in LINE_TABLE],
)
def test_long_line(item: FileStat, style: ListingStyle, line: str) -> None:
    assert long_line(item, style, NOW) == line


SIX_MONTHS = 182 * DAY

WHEN_TABLE = [
    ("now", NOW, "Nov 27 18:32"),
    ("an hour ago", NOW - 3600, "Nov 27 17:32"),
    ("exactly 182 days ago", NOW - SIX_MONTHS, "May 29 18:32"),
    ("182 days and a second ago", NOW - SIX_MONTHS - 1, "May 29  2026"),
    ("last year", NOW - 400 * DAY, "Oct 23  2025"),
    ("the epoch", 0, "Jan 01  1970"),
    # vsftpd and GNU ls: any future date shows the year
    ("a second in the future", NOW + 1, "Nov 27  2026"),
    ("a day in the future", NOW + DAY, "Nov 28  2026"),
    ("next year", NOW + 40 * DAY, "Jan 06  2027"),
]


@pytest.mark.parametrize(
    ("mtime", "when"), [row[1:] for row in WHEN_TABLE], ids=[row[0] for row in WHEN_TABLE]
)
def test_the_six_month_rule(mtime: float, when: str) -> None:
    line = long_line(entry(mtime=mtime), PLAIN, NOW)
    assert line == f"-rw-r--r--    1 1000     1000         1234 {when} name"


@pytest.fixture
def half_past_five_east(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "XYZ-5:30")  # POSIX TZ: UTC+05:30, no DST, no tzdata needed
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("half_past_five_east")
def test_use_localtime_shows_local_time() -> None:
    item = entry(mtime=NOW - 3600)
    assert long_line(item, ListingStyle(use_localtime=True), NOW).endswith(
        " Nov 27 23:02 name"
    )
    assert long_line(item, PLAIN, NOW).endswith(" Nov 27 17:32 name")


def test_sorted_entries_by_name_bytewise() -> None:
    names = ["b", "B", "a", "_x", ".hidden", "\u00e9"]
    assert [e.name for e in sorted_entries([entry(n) for n in names])] == [
        ".hidden", "B", "_x", "a", "b", "\u00e9"
    ]
