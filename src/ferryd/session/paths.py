"""Virtual paths: what a client typed, made absolute and normal. Pure."""

from __future__ import annotations

import posixpath

from ferryd.session.errors import InvalidPath


def resolve_path(cwd: str, argument: str) -> str:
    """Join a client's path to the working folder and normalise it inside "/".

    `..` never climbs above "/", `//` collapses, `~` and `~/x` mean the user's root. A NUL byte
    is refused (never truncated).
    """
    if "\x00" in argument:
        raise InvalidPath("NUL byte in path")
    if argument == "~" or argument.startswith("~/"):
        argument = "/" + argument[1:]
    joined = argument if argument.startswith("/") else posixpath.join(cwd, argument)
    parts: list[str] = []
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def parent_of(path: str) -> str:
    return posixpath.dirname(path) or "/"


def name_of(path: str) -> str:
    return posixpath.basename(path)
