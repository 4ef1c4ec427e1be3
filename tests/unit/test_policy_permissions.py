"""Named permissions per folder (deepest wins), vsftpd's booleans, deny_file and hide_file."""

from __future__ import annotations

import pytest

from ferryd.policy.permissions import (
    ALL_PERMISSIONS,
    WRITE_PERMISSIONS,
    NameFilter,
    Permission,
    PermissionRules,
    format_permissions,
    parse_folder_rule,
    parse_name_patterns,
    parse_permissions,
    permissions_from_vsftpd,
)

P = Permission


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("upload", {P.UPLOAD}),
        ("upload,list", {P.UPLOAD, P.LIST}),
        (" Upload , LIST ,", {P.UPLOAD, P.LIST}),
        ("set_time,chmod", {P.SET_TIME, P.CHMOD}),
        ("list,list", {P.LIST}),
        ("*", set(Permission)),
        ("all", set(Permission)),
        ("ALL", set(Permission)),
        ("none", set()),
        ("", set()),
        (",", set()),
    ],
)
def test_parse_permissions(text: str, expected: set[Permission]) -> None:
    assert parse_permissions(text) == frozenset(expected)


@pytest.mark.parametrize(
    ("text", "unknown"),
    [("uplaod", "uplaod"), ("list,write", "write"), ("read", "read"), ("all,list", "all"),
     ("none,list", "none"), ("set-time", "set-time")],
)
def test_unknown_permission_names_the_culprit_and_the_valid_names(text: str, unknown: str) -> None:
    with pytest.raises(ValueError, match=f"unknown permission '{unknown}'; valid: append, chmod"):
        parse_permissions(text)


def test_the_permission_sets() -> None:
    assert len(ALL_PERMISSIONS) == 11
    assert {P.LIST, P.DOWNLOAD} == ALL_PERMISSIONS - WRITE_PERMISSIONS


@pytest.mark.parametrize(
    ("text", "folder", "permissions"),
    [
        ("/inbox=upload,list", "/inbox", {P.UPLOAD, P.LIST}),
        (" /inbox/ = none", "/inbox", set()),
        ("/a//b/../c=all", "/a/c", set(Permission)),
        ("//x=list", "/x", {P.LIST}),
        ("/=download", "/", {P.DOWNLOAD}),
    ],
)
def test_parse_folder_rule(text: str, folder: str, permissions: set[Permission]) -> None:
    assert parse_folder_rule(text) == (folder, frozenset(permissions))


@pytest.mark.parametrize("text", ["inbox=list", "/inbox", "=list", "/inbox:list"])
def test_bad_folder_rule_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="write FOLDER=PERMISSIONS"):
        parse_folder_rule(text)


def test_format_permissions() -> None:
    assert format_permissions(ALL_PERMISSIONS) == "all"
    assert format_permissions(frozenset()) == "none"
    assert format_permissions(frozenset({P.UPLOAD, P.LIST})) == "list,upload"  # table order


# -- deepest folder wins ------------------------------------------------------------------------

DROP_BOX = PermissionRules(
    default=frozenset({P.LIST}),
    by_folder={
        "/inbox": frozenset({P.UPLOAD, P.LIST}),
        "/inbox/archive": frozenset({P.LIST, P.DOWNLOAD}),
        "/inbox/archive/sealed": frozenset(),
        "/outbox/": frozenset({P.DOWNLOAD, P.DELETE}),  # trailing slash in the rule
    },
)

DEEPEST_TABLE = [
    ("/", {P.LIST}),
    ("/other/file", {P.LIST}),
    ("/inbox", {P.UPLOAD, P.LIST}),
    ("/inbox/new.csv", {P.UPLOAD, P.LIST}),
    ("/inbox/deep/er/new.csv", {P.UPLOAD, P.LIST}),
    ("/inbox/archive", {P.LIST, P.DOWNLOAD}),
    ("/inbox/archive/2026/a.csv", {P.LIST, P.DOWNLOAD}),
    ("/inbox/archive/sealed/x", set()),
    ("/inbox/archived", {P.UPLOAD, P.LIST}),  # a name prefix is not a folder
    ("/inboxes", {P.LIST}),
    ("/outbox", {P.DOWNLOAD, P.DELETE}),
    ("/outbox/r.pdf", {P.DOWNLOAD, P.DELETE}),
    ("/inbox/", {P.UPLOAD, P.LIST}),
    ("//inbox//x", {P.UPLOAD, P.LIST}),  # posixpath.normpath keeps a leading "//"
    ("//", {P.LIST}),
    ("inbox/x", {P.UPLOAD, P.LIST}),  # relative: taken from the root
    ("", {P.LIST}),
    ("/inbox/archive/../x", {P.UPLOAD, P.LIST}),
]


# a walk up the folders that never reaches "/" would hang (it did for "//x"): fail fast
@pytest.mark.timeout(5)
@pytest.mark.parametrize(("path", "expected"), DEEPEST_TABLE)
def test_the_deepest_folder_wins(path: str, expected: set[Permission]) -> None:
    assert DROP_BOX.allowed(path) == frozenset(expected)
    for permission in Permission:
        assert DROP_BOX.allows(permission, path) is (permission in expected)


def test_rule_folders_are_normalised() -> None:
    assert set(DROP_BOX.by_folder) == {"/inbox", "/inbox/archive", "/inbox/archive/sealed",
                                       "/outbox"}


def test_no_rules_means_the_default_everywhere() -> None:
    rules = PermissionRules(default=ALL_PERMISSIONS)
    assert rules.allowed("/") == ALL_PERMISSIONS
    assert rules.allowed("/a/b/c") == ALL_PERMISSIONS


def test_for_user_caps_each_rule_by_the_server_set() -> None:
    ceiling = frozenset({P.LIST, P.DOWNLOAD})  # write_enable=NO
    rules = PermissionRules.for_user(ceiling, ["/inbox=upload,list", "/pub=all"])
    assert rules.default == ceiling
    assert rules.allowed("/inbox/x") == {P.LIST}
    assert rules.allowed("/pub") == ceiling
    assert rules.describe() == ["/=list,download", "/inbox=list",
                                "/pub=list,download"]


def test_for_user_root_rule_replaces_the_default() -> None:
    rules = PermissionRules.for_user(ALL_PERMISSIONS, ["/=list", "/drop=upload"])
    assert rules.default == {P.LIST}
    assert "/" not in rules.by_folder
    assert rules.allowed("/drop/a") == {P.UPLOAD}
    assert rules.describe() == ["/=list", "/drop=upload"]


# -- vsftpd booleans --------------------------------------------------------------------------


def vsftpd(**changes: bool) -> frozenset[Permission]:
    options = {"write_enable": True, "download_enable": True, "dirlist_enable": True,
               "chmod_enable": True, "mdtm_write": True}
    options.update(changes)
    return permissions_from_vsftpd(**options)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, set(Permission)),
        ({"write_enable": False}, {P.LIST, P.DOWNLOAD}),
        ({"download_enable": False}, set(Permission) - {P.DOWNLOAD}),
        ({"dirlist_enable": False}, set(Permission) - {P.LIST}),
        ({"chmod_enable": False}, set(Permission) - {P.CHMOD}),
        ({"mdtm_write": False}, set(Permission) - {P.SET_TIME}),
        # chmod_enable and mdtm_write grant nothing without write_enable
        ({"write_enable": False, "chmod_enable": True, "mdtm_write": True}, {P.LIST, P.DOWNLOAD}),
        ({"write_enable": False, "download_enable": False, "dirlist_enable": False}, set()),
    ],
)
def test_permissions_from_vsftpd(changes: dict[str, bool], expected: set[Permission]) -> None:
    assert vsftpd(**changes) == frozenset(expected)


# -- deny_file / hide_file ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "patterns"),
    [
        (None, ()),
        ("", ()),
        ("{*.mp3,*.mov,.private}", ("*.mp3", "*.mov", ".private")),
        ("*.mp3", ("*.mp3",)),
        ("  {*.iso}  ", ("*.iso",)),
        ("{}", ()),
        ("{a,,b,}", ("a", "b")),
        ("{a", ("{a",)),  # not a set: a pattern as it stands
    ],
)
def test_parse_name_patterns(text: str | None, patterns: tuple[str, ...]) -> None:
    assert parse_name_patterns(text) == patterns


FILTER = NameFilter(
    denied=parse_name_patterns("{*.mp3,.private,/secret*}"),
    hidden=parse_name_patterns("{*.bak,.*}"),
)

FILTER_TABLE = [
    # (path, denied, hidden)
    ("/", False, False),
    ("/song.mp3", True, True),  # denied means hidden too
    ("/music/deep/song.mp3", True, True),
    ("/song.MP3", False, False),  # case matters, as in vsftpd
    ("/song.mp3.txt", False, False),
    ("/a/.private", True, True),
    ("/a/.private/inner.txt", True, True),  # a denied folder denies what is inside
    ("/a/.private/x/y", True, True),
    ("/a/.privateer", False, True),  # hidden by ".*", not denied
    ("/song.mp3/inside", True, True),
    ("/secret", True, True),  # a pattern with "/" matches the whole path
    ("/secret-plans/x.txt", True, True),
    ("/pub/secret", False, False),
    ("/a.bak", False, True),
    ("/dir.bak/file", False, False),  # hide_file hides the entry, not what is under it
    ("/.profile", False, True),
    ("/report.pdf", False, False),
]


@pytest.mark.parametrize(("path", "denied", "hidden"), FILTER_TABLE)
def test_name_filter(path: str, denied: bool, hidden: bool) -> None:
    assert FILTER.is_denied(path) is denied
    assert FILTER.is_hidden(path) is hidden


def test_an_empty_filter_allows_everything() -> None:
    empty = NameFilter()
    assert not empty.is_denied("/a/.private/x.mp3")
    assert not empty.is_hidden("/.hidden")
