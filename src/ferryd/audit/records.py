"""What happened, as data: transfers and session events, whatever the protocol."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class Direction(enum.Enum):
    UPLOAD = "i"
    DOWNLOAD = "o"


@dataclass(frozen=True, slots=True)
class TransferRecord:
    protocol: str  # "ftp", "ftps", "sftp", "scp"
    user: str
    client_address: str
    path: str
    direction: Direction
    bytes_transferred: int
    seconds: float
    ascii_mode: bool
    complete: bool
    finished_at: float


class EventKind(enum.Enum):
    CONNECT = "CONNECT"
    LOGIN = "LOGIN"
    MKDIR = "MKDIR"
    RMDIR = "RMDIR"
    DELETE = "DELETE"
    RENAME = "RENAME"
    CHMOD = "CHMOD"


@dataclass(frozen=True, slots=True)
class EventRecord:
    kind: EventKind
    protocol: str
    user: str
    client_address: str
    detail: str
    ok: bool
    at: float


class AuditSink(Protocol):
    """Where records go; implementations must not block the event loop."""

    def transfer(self, record: TransferRecord) -> None: ...

    def event(self, record: EventRecord) -> None: ...

    def protocol_line(self, user: str, client_address: str, inbound: bool, line: str) -> None:
        """One FTP command or reply (log_ftp_protocol); passwords arrive already masked."""


class NullAuditSink:
    """Records nothing: logging switched off."""

    def transfer(self, record: TransferRecord) -> None:
        del record

    def event(self, record: EventRecord) -> None:
        del record

    def protocol_line(self, user: str, client_address: str, inbound: bool, line: str) -> None:
        del user, client_address, inbound, line
