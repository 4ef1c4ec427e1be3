"""MLSD/MLST facts (RFC 3659) and the MDTM time format. Pure."""

from __future__ import annotations

import calendar
import stat as stat_module
import time

from ferryd.storage.protocol import FileStat

ALL_FACTS = ("type", "size", "modify", "perm", "unix.mode", "unix.uid", "unix.gid")
DEFAULT_FACTS = frozenset({"type", "size", "modify", "perm", "unix.mode"})


# The years YYYY can spell: a file dated outside them (touch -d, a broken clock) is shown
# at the nearest end rather than as 13 or 15 digits, or an OverflowError.
_FIRST_MOMENT = -30610224000  # 1000-01-01 00:00:00 UTC
_LAST_MOMENT = 253402300799  # 9999-12-31 23:59:59 UTC


def format_time(moment: float) -> str:
    """YYYYMMDDHHMMSS in UTC, as MDTM and the modify fact require."""
    clamped = min(max(moment, _FIRST_MOMENT), _LAST_MOMENT)
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(clamped))


def _is_decimal(text: str) -> bool:
    """ASCII digits only: str.isdigit() also takes "²" and other scripts' digits."""
    return text.isascii() and text.isdigit()


def parse_time(text: str) -> float:
    """YYYYMMDDHHMMSS[.sss] (UTC) -> seconds since the epoch; ValueError if malformed."""
    whole, dot, fraction = text.partition(".")
    if len(whole) != 14 or not _is_decimal(whole) or (dot and not _is_decimal(fraction)):
        raise ValueError("time must be YYYYMMDDHHMMSS[.sss]")
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
