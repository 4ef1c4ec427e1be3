"""Virtual paths: a client's argument joined to the working folder, normal, inside "/"."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferryd.session.errors import InvalidPath, SessionError
from ferryd.session.paths import name_of, parent_of, resolve_path

RESOLVE_TABLE = [
    # (cwd, argument, result)
    ("/", "", "/"),
    ("/pub", "", "/pub"),
    ("/pub", ".", "/pub"),
    ("/pub", "a.txt", "/pub/a.txt"),
    ("/pub", "/etc/passwd", "/etc/passwd"),  # absolute means from the user's root
    ("/pub", "..", "/"),
    ("/", "..", "/"),
    ("/", "../../..", "/"),
    ("/pub", "../../../etc/passwd", "/etc/passwd"),
    ("/a/b", "../c", "/a/c"),
    ("/a/b", "./c/./d/", "/a/b/c/d"),
    ("/a/b", "c/../../d", "/a/d"),
    ("/a", "//x//y//", "/x/y"),
    ("/a", "x//y", "/a/x/y"),
    ("/a", "/..", "/"),
    ("/a", "/../b", "/b"),
    ("/a", "...", "/a/..."),  # three dots is a name
    ("/a", "..x", "/a/..x"),
    ("/a", "~", "/"),
    ("/a", "~/", "/"),
    ("/a", "~/x", "/x"),
    ("/a", "~/../x", "/x"),
    ("/a", "~x", "/a/~x"),  # ~user is not expanded: a name like any other
    ("/a", "x/~", "/a/x/~"),
    ("/a", " sp ace ", "/a/ sp ace "),
    ("/a", "back\\slash", "/a/back\\slash"),
    ("/a", "caf\udce9", "/a/caf\udce9"),
    ("/", "//", "/"),
]


@pytest.mark.parametrize(("cwd", "argument", "result"), RESOLVE_TABLE)
def test_resolve_path(cwd: str, argument: str, result: str) -> None:
    assert resolve_path(cwd, argument) == result


@pytest.mark.parametrize("argument", ["\x00", "a\x00b", "/etc/passwd\x00.txt", "~/\x00"])
def test_nul_is_refused_never_truncated(argument: str) -> None:
    with pytest.raises(InvalidPath, match="NUL"):
        resolve_path("/", argument)
    assert issubclass(InvalidPath, SessionError)


@pytest.mark.parametrize(
    ("path", "parent", "name"),
    [("/", "/", ""), ("/a", "/", "a"), ("/a/b", "/a", "b"), ("/a/b c", "/a", "b c")],
)
def test_parent_and_name(path: str, parent: str, name: str) -> None:
    assert parent_of(path) == parent
    assert name_of(path) == name


SEGMENTS = st.lists(
    st.sampled_from(["..", ".", "", "~", "a", "b", "..a", "...", " ", "\udce9"]) | st.text(
        alphabet=st.characters(blacklist_characters="\x00/"), max_size=4
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(SEGMENTS, SEGMENTS, st.booleans())
def test_the_result_is_always_absolute_and_normal(
    cwd_parts: list[str], argument_parts: list[str], absolute: bool
) -> None:
    cwd = resolve_path("/", "/".join(cwd_parts))
    argument = ("/" if absolute else "") + "/".join(argument_parts)
    result = resolve_path(cwd, argument)
    assert result.startswith("/")
    assert "//" not in result
    assert "/../" not in result + "/"
    assert "/./" not in result + "/"
    assert result == "/" or not result.endswith("/")
    assert resolve_path("/", result) == result  # idempotent
    assert resolve_path("/somewhere/else", result) == result  # absolute: the cwd is ignored
