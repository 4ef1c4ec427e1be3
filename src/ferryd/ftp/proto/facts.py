"""MLSD/MLST facts (RFC 3659) and the MDTM time format. Pure."""

from __future__ import annotations

import calendar
import stat as stat_module
import time

from ferryd.storage.protocol import FileStat

ALL_FACTS = ("type", "size", "modify", "perm", "unix.mode", "unix.uid", "unix.gid")
DEFAULT_FACTS = frozenset({"type", "size", "modify", "perm", "unix.mode"})


def format_time(moment: float) -> str:
    """YYYYMMDDHHMMSS in UTC, as MDTM and the modify fact require."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(moment))


def parse_time(text: str) -> float:
    """YYYYMMDDHHMMSS[.sss] (UTC) -> seconds since the epoch; ValueError if malformed."""
    whole, _, fraction = text.partition(".")
    if len(whole) != 14 or not whole.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError("time must be YYYYMMDDHHMMSS")
    parsed = time.strptime(whole, "%Y%m%d%H%M%S")
    return calendar.timegm(parsed) + (float("0." + fraction) if fraction else 0.0)


def facts_line(
    entry: FileStat, *, name: str, kind: str, perm: str, enabled: frozenset[str]
) -> str:
    """`type=file;size=3;modify=20261127183258;perm=adfrw; name` with the enabled facts."""
    values: list[tuple[str, str]] = [("type", kind)]
    if not entry.is_dir:
        values.append(("size", str(entry.size)))
    values += [
        ("modify", format_time(entry.mtime)),
        ("perm", perm),
        ("unix.mode", f"0{stat_module.S_IMODE(entry.mode):o}"),
        ("unix.uid", str(entry.uid)),
        ("unix.gid", str(entry.gid)),
    ]
    text = "".join(f"{fact}={value};" for fact, value in values if fact in enabled)
    return f"{text} {name}"


def feat_mlst_line(enabled: frozenset[str]) -> str:
    return "MLST " + "".join(f"{fact}{'*' if fact in enabled else ''};" for fact in ALL_FACTS)
