"""Named permissions, per path: what a user may do where. Pure."""

from __future__ import annotations

import enum
import fnmatch
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


class Permission(enum.Enum):
    LIST = "list"
    DOWNLOAD = "download"
    UPLOAD = "upload"
    OVERWRITE = "overwrite"
    APPEND = "append"
    DELETE = "delete"
    RENAME = "rename"
    MKDIR = "mkdir"
    RMDIR = "rmdir"
    CHMOD = "chmod"
    SET_TIME = "set_time"


ALL_PERMISSIONS = frozenset(Permission)
WRITE_PERMISSIONS = frozenset(
    {Permission.UPLOAD, Permission.OVERWRITE, Permission.APPEND, Permission.DELETE,
     Permission.RENAME, Permission.MKDIR, Permission.RMDIR, Permission.CHMOD,
     Permission.SET_TIME}
)


def parse_permissions(text: str) -> frozenset[Permission]:
    """'upload,list' -> {UPLOAD, LIST}; '*' or 'all' is every permission; 'none' is none."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if names in (["*"], ["all"]):
        return ALL_PERMISSIONS
    if names == ["none"]:
        return frozenset()
    known = {permission.value: permission for permission in Permission}
    unknown = [name for name in names if name not in known]
    if unknown:
        valid = ", ".join(sorted(known))
        raise ValueError(f"unknown permission {unknown[0]!r}; valid: {valid}, all, none")
    return frozenset(known[name] for name in names)


def _folder_key(path: str) -> str:
    """"/a/b", "a/b/", "//a//b" -> "/a/b". posixpath.normpath keeps a leading "//" (POSIX
    leaves its meaning to the system), and dirname("//") is "//": the walk up would never
    reach "/"."""
    return "/" + posixpath.normpath("/" + path).lstrip("/")


def parse_folder_rule(text: str) -> tuple[str, frozenset[Permission]]:
    """`/outbox=upload,list` -> ("/outbox", {UPLOAD, LIST}); ValueError with the fix if bad."""
    folder, separator, names = text.partition("=")
    folder = folder.strip()
    if not separator or not folder.startswith("/"):
        raise ValueError(
            f"bad permission rule {text!r}: write FOLDER=PERMISSIONS, e.g. /inbox=upload,list"
        )
    normal = posixpath.normpath(folder)
    if normal.startswith("//"):
        normal = normal[1:]
    return normal, parse_permissions(names)


def format_permissions(permissions: frozenset[Permission]) -> str:
    if permissions == ALL_PERMISSIONS:
        return "all"
    return ",".join(p.value for p in Permission if p in permissions) or "none"


@dataclass(frozen=True)
class PermissionRules:
    """A default set plus overrides per folder; the deepest matching folder wins."""

    default: frozenset[Permission]
    by_folder: Mapping[str, frozenset[Permission]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        normal = {_folder_key(folder): rule for folder, rule in self.by_folder.items()}
        object.__setattr__(self, "by_folder", normal)

    def allowed(self, path: str) -> frozenset[Permission]:
        folder = _folder_key(path)
        while True:
            rule = self.by_folder.get(folder)
            if rule is not None:
                return rule
            if folder == "/":
                return self.default
            folder = posixpath.dirname(folder)

    def allows(self, permission: Permission, path: str) -> bool:
        return permission in self.allowed(path)

    @classmethod
    def for_user(cls, ceiling: frozenset[Permission], rules: Iterable[str]) -> PermissionRules:
        """A user's folder rules, each capped by the server-wide set (write_enable=NO wins
        over any rule); without a rule for "/", the root gets the whole server-wide set."""
        by_folder = {
            folder: permissions & ceiling
            for folder, permissions in (parse_folder_rule(rule) for rule in rules)
        }
        default = by_folder.pop("/", ceiling)
        return cls(default=default, by_folder=by_folder)

    def describe(self) -> list[str]:
        """`FOLDER=PERMISSIONS` lines, the root first."""
        lines = [f"/={format_permissions(self.default)}"]
        for folder, permissions in sorted(self.by_folder.items()):
            lines.append(f"{folder}={format_permissions(permissions)}")
        return lines


def permissions_from_vsftpd(
    *, write_enable: bool, download_enable: bool, dirlist_enable: bool, chmod_enable: bool,
    mdtm_write: bool,
) -> frozenset[Permission]:
    """vsftpd's booleans as one permission set, as design.md section 3 says."""
    granted: set[Permission] = set()
    if dirlist_enable:
        granted.add(Permission.LIST)
    if download_enable:
        granted.add(Permission.DOWNLOAD)
    if write_enable:
        granted |= WRITE_PERMISSIONS
        if not chmod_enable:
            granted.discard(Permission.CHMOD)
        if not mdtm_write:
            granted.discard(Permission.SET_TIME)
    return frozenset(granted)


def anonymous_permissions(
    *, write_enable: bool, download_enable: bool, dirlist_enable: bool,
    anon_upload_enable: bool, anon_mkdir_write_enable: bool, anon_other_write_enable: bool,
) -> frozenset[Permission]:
    """vsftpd's anon_* booleans: uploads of new files, new folders, and "other" writes
    (delete, rename, overwrite, append, rmdir), each also needing write_enable. Anonymous
    users never chmod, and never set times."""
    granted: set[Permission] = set()
    if dirlist_enable:
        granted.add(Permission.LIST)
    if download_enable:
        granted.add(Permission.DOWNLOAD)
    if write_enable and anon_upload_enable:
        granted.add(Permission.UPLOAD)
    if write_enable and anon_mkdir_write_enable:
        granted.add(Permission.MKDIR)
    if write_enable and anon_other_write_enable:
        granted |= {Permission.DELETE, Permission.RENAME, Permission.OVERWRITE,
                    Permission.APPEND, Permission.RMDIR}
    return frozenset(granted)


def parse_name_patterns(text: str | None) -> tuple[str, ...]:
    """vsftpd's deny_file/hide_file value: '{*.mp3,*.mov,.private}' or a single pattern."""
    if not text:
        return ()
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    return tuple(part for part in body.split(",") if part)


@dataclass(frozen=True)
class NameFilter:
    """deny_file (no access at all) and hide_file (not listed, still reachable)."""

    denied: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()

    @staticmethod
    def _matches(patterns: Iterable[str], path: str) -> bool:
        name = posixpath.basename(path)
        return any(
            fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(path, pattern)
            for pattern in patterns
        )

    def is_denied(self, path: str) -> bool:
        parts = [part for part in path.split("/") if part]
        prefixes = ["/" + "/".join(parts[: index + 1]) for index in range(len(parts))]
        return any(self._matches(self.denied, prefix) for prefix in prefixes)

    def is_hidden(self, path: str) -> bool:
        return self._matches(self.hidden, path) or self.is_denied(path)
