"""MLSD/MLST fact lines (RFC 3659) and the YYYYMMDDHHMMSS time of MDTM/MFMT/modify."""

from __future__ import annotations

import calendar
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferryd.ftp.proto.facts import (
    ALL_FACTS,
    DEFAULT_FACTS,
    facts_line,
    feat_mlst_line,
    format_time,
    parse_time,
)
from ferryd.storage.protocol import FileStat

MOMENT = calendar.timegm((2026, 11, 27, 18, 32, 58, 0, 0, 0))  # 2026-11-27 18:32:58 UTC


def entry(mode: int, size: int = 3, mtime: float = MOMENT) -> FileStat:
    return FileStat(name="x", size=size, mtime=mtime, mode=mode, nlink=1, uid=1000, gid=100,
                    owner="alice", group="users")


FILE = entry(stat.S_IFREG | 0o644)
FOLDER = entry(stat.S_IFDIR | 0o755, size=4096)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (0, "19700101000000"),
        (MOMENT, "20261127183258"),
        (MOMENT + 0.999, "20261127183258"),  # fractions are cut, not rounded
        (951782400, "20000229000000"),  # a leap day
        (-1, "19691231235959"),
        (253402300799, "99991231235959"),
        (253402300800, "99991231235959"),  # beyond year 9999: shown at the end of it
        (1e18, "99991231235959"),  # gmtime alone would raise OverflowError
        (-30610224000, "10000101000000"),
        (-1e13, "10000101000000"),  # before year 1000: three digits of year otherwise
    ],
)
def test_format_time(moment: float, text: str) -> None:
    assert format_time(moment) == text
    assert len(text) == 14


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("20261127183258", MOMENT),
        ("19700101000000", 0.0),
        ("20261127183258.5", MOMENT + 0.5),
        ("20261127183258.123", MOMENT + 0.123),
        ("20000229120000", 951825600.0),
        ("20261127183260", MOMENT + 2),  # second 60 (leap second) is allowed by RFC 3659
    ],
)
def test_parse_time(text: str, moment: float) -> None:
    assert parse_time(text) == pytest.approx(moment)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026112718325",  # 13 digits
        "202611271832580",  # 15
        "2026-11-27 18:32",
        "2026112718325a",
        " 20261127183258",
        "20261127183258 ",
        "20261127183258.",  # a dot needs digits after it
        "20261127183258.x",
        "20261127183258.1.2",
        "20261127183258.-1",
        "+2026112718325",
        "20261327183258",  # month 13
        "20260230120000",  # February 30
        "20261127253258",  # hour 25
        "00001127183258",  # year 0
        "\u0662\u0660\u0662\u0666\u0661\u0661\u0662\u0667\u0661\u0668\u0663\u0662\u0665\u0668",
        "20261127183258.\u0665",  # an Arabic-Indic five after the dot
        "2026112718325\u00b2",  # SUPERSCRIPT TWO: str.isdigit() says yes
    ],
)
def test_parse_time_refuses_bad_input(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=-30610224000, max_value=253402300799))
def test_format_then_parse_round_trips(moment: int) -> None:
    assert parse_time(format_time(moment)) == moment


def test_facts_line_for_a_file_with_the_default_facts() -> None:
    line = facts_line(FILE, name="a b.txt", kind="file", perm="adfrw", enabled=DEFAULT_FACTS)
    assert line == "type=file;size=3;modify=20261127183258;perm=adfrw;unix.mode=0644; a b.txt"


def test_facts_line_for_a_folder_has_no_size() -> None:
    line = facts_line(FOLDER, name=".", kind="cdir", perm="flcdmpe", enabled=DEFAULT_FACTS)
    assert line == "type=cdir;modify=20261127183258;perm=flcdmpe;unix.mode=0755; ."


def test_facts_line_with_every_fact_keeps_the_rfc_order() -> None:
    line = facts_line(FILE, name="x", kind="file", perm="r", enabled=frozenset(ALL_FACTS))
    assert line == (
        "type=file;size=3;modify=20261127183258;perm=r;unix.mode=0644;unix.uid=1000;"
        "unix.gid=100; x"
    )


@pytest.mark.parametrize(
    ("enabled", "facts"),
    [
        (frozenset(), ""),
        (frozenset({"size"}), "size=3;"),
        (frozenset({"modify", "type"}), "type=file;modify=20261127183258;"),
        (frozenset({"unix.gid", "unix.uid"}), "unix.uid=1000;unix.gid=100;"),
        (frozenset({"unknown"}), ""),
    ],
)
def test_facts_line_shows_only_the_enabled_facts(enabled: frozenset[str], facts: str) -> None:
    assert facts_line(FILE, name="x", kind="file", perm="r", enabled=enabled) == f"{facts} x"


@pytest.mark.parametrize(
    ("mode", "shown"),
    [(0o644, "0644"), (0o4755, "04755"), (0o1777, "01777"), (0o600, "0600"), (0o7, "07")],
)
def test_unix_mode_is_octal_with_a_leading_zero(mode: int, shown: str) -> None:
    line = facts_line(entry(stat.S_IFREG | mode), name="x", kind="file", perm="r",
                      enabled=frozenset({"unix.mode"}))
    assert line == f"unix.mode={shown}; x"


def test_feat_mlst_line_stars_the_enabled_facts() -> None:
    assert feat_mlst_line(DEFAULT_FACTS) == (
        "MLST type*;size*;modify*;perm*;unix.mode*;unix.uid;unix.gid;"
    )
    assert feat_mlst_line(frozenset()) == (
        "MLST type;size;modify;perm;unix.mode;unix.uid;unix.gid;"
    )
    assert frozenset(ALL_FACTS) > DEFAULT_FACTS
