"""Log line formats: vsftpd's own log, wu-ftpd's xferlog, and JSON lines. Pure functions."""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

from ferryd.audit.records import Direction, EventRecord, TransferRecord


def _timestamp(at: float, use_localtime: bool) -> str:
    """ctime's layout, as vsftpd writes it: `Mon Jan  2 03:04:05 2006` (day padded with a
    space, not a zero; strftime's %e is not portable, so vsftpd patches %d, and so do we)."""
    moment = time.localtime(at) if use_localtime else time.gmtime(at)
    return time.strftime("%a %b ", moment) + f"{moment.tm_mday:2d}" + time.strftime(
        " %H:%M:%S %Y", moment
    )


def _unprintable_to_question_mark(line: str) -> str:
    """vsftpd's str_replace_unprintable: no control character reaches a log line, so a name
    holding a newline or an escape sequence cannot forge entries or drive a terminal.
    Undecodable bytes (surrogates) become "?" too: syslog would refuse them."""
    return "".join("?" if _unprintable(char) else char for char in line)


def _unprintable(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF


def vsftpd_transfer_line(
    record: TransferRecord, *, pid: int, use_localtime: bool
) -> str:
    """vsftpd's line: `... [alice] OK UPLOAD: Client "1.2.3.4", "/a", 9 bytes, 1.00Kbyte/sec`."""
    status = "OK" if record.complete else "FAIL"
    verb = "UPLOAD" if record.direction is Direction.UPLOAD else "DOWNLOAD"
    seconds = record.seconds if record.seconds > 0 else 0.1  # as vsftpd: never divide by 0
    rate = record.bytes_transferred / seconds / 1024.0
    protocol = "" if record.protocol in ("ftp", "ftps") else f" [{record.protocol}]"
    size = f", {record.bytes_transferred} bytes" if record.bytes_transferred else ""  # vsftpd
    return _unprintable_to_question_mark(
        f"{_timestamp(record.finished_at, use_localtime)} [pid {pid}] [{record.user}]{protocol} "
        f'{status} {verb}: Client "{record.client_address}", "{record.path}"{size}, '
        f"{rate:.2f}Kbyte/sec"
    )


def vsftpd_event_line(record: EventRecord, *, pid: int, use_localtime: bool) -> str:
    status = "OK" if record.ok else "FAIL"
    user = f" [{record.user}]" if record.user else ""
    protocol = "" if record.protocol in ("ftp", "ftps") else f" [{record.protocol}]"
    detail = f', "{record.detail}"' if record.detail else ""
    prefix = "" if record.kind.value == "CONNECT" else f"{status} "
    return _unprintable_to_question_mark(
        f"{_timestamp(record.at, use_localtime)} [pid {pid}]{user}{protocol} "
        f'{prefix}{record.kind.value}: Client "{record.client_address}"{detail}'
    )


def vsftpd_protocol_line(
    at: float, *, pid: int, use_localtime: bool, user: str, client_address: str,
    inbound: bool, line: str,
) -> str:
    kind = "FTP command" if inbound else "FTP response"
    user_part = f" [{user}]" if user else ""
    return _unprintable_to_question_mark(
        f"{_timestamp(at, use_localtime)} [pid {pid}]{user_part} {kind}: "
        f'Client "{client_address}", "{line}"'
    )


def xferlog_line(record: TransferRecord, *, use_localtime: bool) -> str:
    """wu-ftpd xferlog: time, seconds, host, size, name, type, action, direction, mode, user,
    service, auth method, auth user id, completion."""
    seconds = max(1, round(record.seconds))
    name = record.path.replace(" ", "_")
    kind = "a" if record.ascii_mode else "b"
    service = record.protocol if record.protocol in ("sftp", "scp") else "ftp"  # named as is
    status = "c" if record.complete else "i"
    return _unprintable_to_question_mark(
        f"{_timestamp(record.finished_at, use_localtime)} {seconds} {record.client_address} "
        f"{record.bytes_transferred} {name} {kind} _ {record.direction.value} r {record.user} "
        f"{service} 0 * {status}"
    )


def _iso_time(at: float, use_localtime: bool) -> str:
    zone = None if use_localtime else datetime.UTC
    return datetime.datetime.fromtimestamp(at, zone).astimezone(zone).isoformat(
        timespec="milliseconds"
    )


def _json(fields: dict[str, Any]) -> str:
    """One object per line; json escapes every control character (and, ASCII only, the
    undecodable bytes of a file name), so no field can break or forge a line."""
    return json.dumps(fields, separators=(",", ":"))


def json_transfer_line(record: TransferRecord, *, pid: int, use_localtime: bool) -> str:
    return _json({
        "time": _iso_time(record.finished_at, use_localtime), "pid": pid, "event": "transfer",
        "protocol": record.protocol, "user": record.user, "client": record.client_address,
        "path": record.path, "direction": record.direction.name.lower(),
        "bytes": record.bytes_transferred, "seconds": round(record.seconds, 3),
        "ascii": record.ascii_mode, "complete": record.complete,
    })


def json_event_line(record: EventRecord, *, pid: int, use_localtime: bool) -> str:
    return _json({
        "time": _iso_time(record.at, use_localtime), "pid": pid,
        "event": record.kind.value.lower(), "protocol": record.protocol, "user": record.user,
        "client": record.client_address, "ok": record.ok, "detail": record.detail,
    })


def json_protocol_line(
    at: float, *, pid: int, use_localtime: bool, user: str, client_address: str,
    inbound: bool, line: str,
) -> str:
    return _json({
        "time": _iso_time(at, use_localtime), "pid": pid,
        "event": "ftp_command" if inbound else "ftp_response", "user": user,
        "client": client_address, "line": line,
    })
