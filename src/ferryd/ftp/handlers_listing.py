"""Handlers for listings: LIST, NLST, MLSD over the data connection; MLST and STAT inline."""

from __future__ import annotations

import fnmatch
import posixpath
import time
from typing import TYPE_CHECKING

from ferryd.ftp.handlers_transfer import DEFAULT_CHUNK
from ferryd.ftp.proto.core import Command
from ferryd.ftp.proto.facts import facts_line
from ferryd.ftp.proto.replies import Reply
from ferryd.policy.permissions import Permission
from ferryd.session.file_session import FileSession
from ferryd.session.listing import ListingStyle, long_line
from ferryd.storage.errors import StorageError
from ferryd.storage.protocol import FileStat

if TYPE_CHECKING:
    from ferryd.ftp.connection import FtpConnection

MAX_RECURSION_DEPTH = 16
_NETWORK_ERRORS = (ConnectionError, OSError, TimeoutError)


def split_list_argument(argument: str) -> tuple[set[str], str]:
    """`-la /some path` -> ({'l', 'a'}, '/some path'). Options come first, each after '-'."""
    flags: set[str] = set()
    rest = argument.strip()
    while rest.startswith("-"):
        word, _, rest = rest.partition(" ")
        flags.update(word[1:])
        rest = rest.lstrip()
    return flags, rest


def _style(conn: FtpConnection) -> ListingStyle:
    ftp = conn.services.ftp
    return ListingStyle(
        use_localtime=ftp.use_localtime, hide_ids=ftp.hide_ids,
        text_userdb_names=ftp.text_userdb_names,
    )


def _shown(conn: FtpConnection, entries: list[FileStat], flags: set[str]) -> list[FileStat]:
    dot_files = "a" in flags or conn.services.ftp.force_dot_files
    kept = [entry for entry in entries if dot_files or not entry.name.startswith(".")]
    return sorted(kept, key=lambda entry: entry.name)


async def _entries(
    session: FileSession, target: str
) -> tuple[str, list[FileStat], bool]:
    """A folder's entries; a glob in the last component filters them; a file lists itself."""
    name = posixpath.basename(target)
    if any(char in name for char in "*?[") and name:
        folder = posixpath.dirname(target) or "."
        path, entries = await session.list_dir(folder)
        return path, [e for e in entries if fnmatch.fnmatchcase(e.name, name)], True
    path, entries = await session.list_dir(target or ".")
    single_file = len(entries) == 1 and not (await session.stat(path)).is_dir
    return path, entries, not single_file


async def long_listing(conn: FtpConnection, argument: str) -> list[str]:
    flags, target = split_list_argument(argument)
    session = conn.session
    style, now = _style(conn), time.time()
    path, entries, is_folder = await _entries(session, target)
    lines = [long_line(entry, style, now) for entry in _shown(conn, entries, flags)]
    if "R" in flags and conn.services.ftp.ls_recurse_enable and is_folder:
        lines = [f"{path}:", *lines]
        await _recurse(conn, path, entries, flags, lines, depth=1)
    return lines


async def _recurse(
    conn: FtpConnection, path: str, entries: list[FileStat], flags: set[str], lines: list[str],
    depth: int,
) -> None:
    if depth > MAX_RECURSION_DEPTH:
        return
    style, now = _style(conn), time.time()
    for entry in _shown(conn, entries, flags):
        if not entry.is_dir:
            continue
        child = posixpath.join(path, entry.name)
        try:
            _, children = await conn.session.list_dir(child)
        except StorageError:
            continue
        shown = _shown(conn, children, flags)
        lines += ["", f"{child}:", *(long_line(e, style, now) for e in shown)]
        await _recurse(conn, child, children, flags, lines, depth + 1)


def _perm(session: FileSession, path: str, entry: FileStat) -> str:
    may = session.may
    if entry.is_dir:
        pairs = [("e", True), ("l", may(Permission.LIST, path)),
                 ("c", may(Permission.UPLOAD, path)), ("m", may(Permission.MKDIR, path)),
                 ("d", may(Permission.RMDIR, path)), ("f", may(Permission.RENAME, path)),
                 ("p", may(Permission.DELETE, path))]
    else:
        pairs = [("a", may(Permission.APPEND, path)), ("d", may(Permission.DELETE, path)),
                 ("f", may(Permission.RENAME, path)), ("r", may(Permission.DOWNLOAD, path)),
                 ("w", may(Permission.OVERWRITE, path))]
    return "".join(letter for letter, allowed in pairs if allowed)


def _fact_line(conn: FtpConnection, folder: str, entry: FileStat, kind: str | None = None,
               name: str | None = None) -> str:
    path = posixpath.join(folder, entry.name)
    return facts_line(
        entry, name=name if name is not None else entry.name,
        kind=kind or ("dir" if entry.is_dir else "file"),
        perm=_perm(conn.session, path, entry), enabled=conn.state.mlst_facts,
    )


async def _send_listing(conn: FtpConnection, lines: list[str]) -> None:
    data = await conn.open_data_connection(Reply(150, "Here comes the directory listing."))

    async def send() -> None:
        payload = "".join(line + "\r\n" for line in lines).encode("utf-8", "surrogateescape")
        try:
            for start in range(0, len(payload), DEFAULT_CHUNK):
                await data.send(payload[start : start + DEFAULT_CHUNK])
            await data.close()
        except _NETWORK_ERRORS:
            data.abort()
            await conn.send(Reply(426, "Failure writing network stream."))
            return
        await conn.send(Reply(226, "Directory send OK."))

    conn.start_transfer(send())


async def handle_list(conn: FtpConnection, command: Command) -> Reply | None:
    conn.check_data_protection()
    lines = await long_listing(conn, command.argument)
    await _send_listing(conn, lines)
    return None


async def handle_nlst(conn: FtpConnection, command: Command) -> Reply | None:
    conn.check_data_protection()
    flags, target = split_list_argument(command.argument)
    if "l" in flags:
        lines = await long_listing(conn, command.argument)
    else:
        _path, entries, _is_folder = await _entries(conn.session, target)
        lines = [entry.name for entry in _shown(conn, entries, flags)]
    await _send_listing(conn, lines)
    return None


async def handle_mlsd(conn: FtpConnection, command: Command) -> Reply | None:
    conn.check_data_protection()
    session = conn.session
    path, entries = await session.list_dir(command.argument.strip() or ".")
    folder = await session.stat(path)
    if not folder.is_dir:
        return Reply(501, "MLSD needs a folder: use MLST for a file.")
    lines = [_fact_line(conn, path, folder, kind="cdir", name=".")]
    lines += [_fact_line(conn, path, entry) for entry in sorted(entries, key=lambda e: e.name)]
    await _send_listing(conn, lines)
    return None


async def handle_mlst(conn: FtpConnection, command: Command) -> Reply:
    session = conn.session
    path = session.resolve(command.argument.strip() or ".")
    entry = await session.stat(path)
    line = _fact_line(conn, posixpath.dirname(path), entry, name=path)
    return Reply(250, f"Listing {path}\n {line}\nEnd.")


async def handle_stat(conn: FtpConnection, command: Command) -> Reply:
    if command.argument.strip() and conn.core.logged_in:
        lines = await long_listing(conn, command.argument)
        return Reply(213, "Status follows:\n" + "\n".join(lines) + "\nEnd of status")
    state = conn.state
    status = [
        "FTP server status:",
        f"     Connected to {conn.peer_address}",
        f"     Logged in as {state.user_name}" if conn.core.logged_in else "     Not logged in",
        f"     TYPE: {'ASCII' if state.ascii_type else 'BINARY'}",
        f"     Control connection is {'TLS' if conn.tls_active else 'plain text'}",
        f"     Data connections are {'TLS' if state.protected_data else 'plain text'}",
        f"     A transfer is {'running' if conn.transfer_running else 'not running'}",
        "End of status",
    ]
    return Reply(211, "\n".join(status))


HANDLERS = {
    "LIST": handle_list, "NLST": handle_nlst, "MLSD": handle_mlsd, "MLST": handle_mlst,
    "STAT": handle_stat,
}
