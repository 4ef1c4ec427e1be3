"""Handlers for navigation, names, metadata and checksums."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferryd.ftp.proto.core import Command
from ferryd.ftp.proto.facts import format_time, parse_time
from ferryd.ftp.proto.replies import Reply
from ferryd.ftp.proto.state import Transition
from ferryd.storage.errors import IsADirectory

if TYPE_CHECKING:
    from ferryd.ftp.connection import FtpConnection


def quoted(path: str) -> str:
    """RFC 959: a double quote inside a quoted path name is doubled."""
    return '"' + path.replace('"', '""') + '"'


async def handle_pwd(conn: FtpConnection, command: Command) -> Reply:
    del command
    return Reply(257, f"{quoted(conn.session.cwd)} is the current directory")


async def _changed(conn: FtpConnection, path: str) -> Reply:
    """250, preceded by the folder's message_file the first time (dirmessage_enable)."""
    done = "Directory successfully changed."
    ftp = conn.services.ftp
    if not ftp.dirmessage_enable or path in conn.state.folders_with_message_shown:
        return Reply(250, done)
    conn.state.folders_with_message_shown |= {path}
    message = await conn.session.read_folder_message(ftp.message_file)
    return Reply(250, f"{message}\n{done}" if message else done)


async def handle_cwd(conn: FtpConnection, command: Command) -> Reply:
    return await _changed(conn, await conn.session.change_dir(command.argument or "/"))


async def handle_cdup(conn: FtpConnection, command: Command) -> Reply:
    del command
    return await _changed(conn, await conn.session.change_dir(".."))


async def handle_mkd(conn: FtpConnection, command: Command) -> Reply:
    path = await conn.session.make_dir(command.argument)
    return Reply(257, f"{quoted(path)} created")


async def handle_rmd(conn: FtpConnection, command: Command) -> Reply:
    await conn.session.remove_dir(command.argument)
    return Reply(250, "Remove directory operation successful.")


async def handle_dele(conn: FtpConnection, command: Command) -> Reply:
    await conn.session.delete(command.argument)
    return Reply(250, "Delete operation successful.")


async def handle_rnfr(conn: FtpConnection, command: Command) -> Reply:
    conn.state.rename_source = await conn.session.check_rename_source(command.argument)
    conn.core.apply(Transition.RENAME_SOURCE_ACCEPTED)
    return Reply(350, "Ready for RNTO.")


async def handle_rnto(conn: FtpConnection, command: Command) -> Reply:
    source, conn.state.rename_source = conn.state.rename_source, None
    assert source is not None, "the core only passes RNTO after RNFR"
    await conn.session.rename(source, command.argument)
    return Reply(250, "Rename successful.")


async def handle_size(conn: FtpConnection, command: Command) -> Reply:
    entry = await conn.session.stat(command.argument)
    if entry.is_dir:
        raise IsADirectory(f"{command.argument}: is a directory")
    return Reply(213, str(entry.size))


async def handle_mdtm(conn: FtpConnection, command: Command) -> Reply:
    """MDTM path reads; MDTM YYYYMMDDHHMMSS path sets (mdtm_write), as vsftpd does."""
    first, _, rest = command.argument.partition(" ")
    if rest.strip() and len(first) >= 14 and first[:14].isdigit():
        try:
            moment = parse_time(first)
        except ValueError:
            return Reply(501, "Bad time: use YYYYMMDDHHMMSS.")
        if not conn.services.ftp.mdtm_write:
            return Reply(550, "Permission denied.")
        await conn.session.set_mtime(rest, moment)
        return Reply(213, "File modification time set.")
    entry = await conn.session.stat(command.argument)
    if entry.is_dir:  # vsftpd: regular files only
        raise IsADirectory(f"{command.argument}: is a directory")
    return Reply(213, format_time(entry.mtime))


async def handle_mfmt(conn: FtpConnection, command: Command) -> Reply:
    stamp, _, path = command.argument.partition(" ")
    if not path.strip():
        return Reply(501, "MFMT needs a time and a file name.")
    try:
        moment = parse_time(stamp)
    except ValueError:
        return Reply(501, "Bad time: use YYYYMMDDHHMMSS.")
    resolved = await conn.session.set_mtime(path, moment)
    return Reply(213, f"Modify={stamp}; {resolved}")


_X_COMMANDS = {
    "XCRC": "CRC32", "XMD5": "MD5", "XSHA1": "SHA-1", "XSHA256": "SHA-256", "XSHA512": "SHA-512",
}


def _path_and_range(argument: str) -> tuple[str, int, int | None]:
    """`name [start [end]]`; a name with spaces works when no numbers follow it."""
    parts = argument.rsplit(" ", 2)
    numbers: list[int] = []
    while len(parts) > 1 and parts[-1].isdigit():
        numbers.insert(0, int(parts.pop()))
    path = " ".join(parts)
    start = numbers[0] if numbers else 0
    end = numbers[1] if len(numbers) > 1 else None
    return path, start, end


async def handle_x_checksum(conn: FtpConnection, command: Command) -> Reply:
    path, start, end = _path_and_range(command.argument)
    algorithm = _X_COMMANDS[command.name]
    digest = await conn.session.checksum(path, algorithm, start, end)
    return Reply(250, digest.upper() if algorithm == "CRC32" else digest)


async def handle_hash(conn: FtpConnection, command: Command) -> Reply:
    algorithm = conn.state.hash_algorithm
    entry = await conn.session.stat(command.argument)
    if entry.is_dir:
        raise IsADirectory(f"{command.argument}: is a directory")
    start = conn.state.take_restart_offset()
    digest = await conn.session.checksum(command.argument, algorithm, start)
    return Reply(213, f"{algorithm} {start}-{entry.size} {digest} {command.argument}")


HANDLERS = {
    "PWD": handle_pwd, "CWD": handle_cwd, "CDUP": handle_cdup, "MKD": handle_mkd,
    "RMD": handle_rmd, "DELE": handle_dele, "RNFR": handle_rnfr, "RNTO": handle_rnto,
    "SIZE": handle_size, "MDTM": handle_mdtm, "MFMT": handle_mfmt, "HASH": handle_hash,
    **{name: handle_x_checksum for name in _X_COMMANDS},
}
