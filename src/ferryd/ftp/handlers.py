"""The handler of every command in the table, merged from the handler modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ferryd.ftp import handlers_access, handlers_files, handlers_listing, handlers_transfer
from ferryd.ftp.proto.commands import COMMANDS
from ferryd.ftp.proto.core import Command
from ferryd.ftp.proto.replies import Reply

if TYPE_CHECKING:
    from ferryd.ftp.connection import FtpConnection

Handler = Callable[["FtpConnection", Command], Awaitable[Reply | None]]

HANDLERS: dict[str, Handler] = {
    **handlers_access.HANDLERS,
    **handlers_files.HANDLERS,
    **handlers_listing.HANDLERS,
    **handlers_transfer.HANDLERS,
}

_missing = {spec.handler_name for spec in COMMANDS.values()} - set(HANDLERS)
if _missing:
    raise ImportError(f"FTP commands without a handler: {sorted(_missing)}")
