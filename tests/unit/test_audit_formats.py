"""Log lines field by field: vsftpd's own log and wu-ftpd's xferlog."""

from __future__ import annotations

import calendar
import json
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from ferryd.audit.formats import (
    json_event_line,
    json_protocol_line,
    json_transfer_line,
    vsftpd_event_line,
    vsftpd_protocol_line,
    vsftpd_transfer_line,
    xferlog_line,
)
from ferryd.audit.records import Direction, EventKind, EventRecord, TransferRecord

AT = calendar.timegm((2026, 11, 7, 8, 5, 9, 0, 0, 0))  # Sat Nov  7 08:05:09 2026 UTC
STAMP = "Sat Nov  7 08:05:09 2026"

UPLOAD = TransferRecord(
    protocol="ftp", user="alice", client_address="192.0.2.7", path="/inbox/a.csv",
    direction=Direction.UPLOAD, bytes_transferred=2048, seconds=2.0, ascii_mode=False,
    complete=True, finished_at=AT,
)


def vsftpd(record: TransferRecord) -> str:
    return vsftpd_transfer_line(record, pid=4242, use_localtime=False)


def xferlog(record: TransferRecord) -> str:
    return xferlog_line(record, use_localtime=False)


# -- the date -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "stamp"),
    [
        ((2026, 11, 7, 8, 5, 9), "Sat Nov  7 08:05:09 2026"),  # day padded with a space
        ((2026, 11, 17, 23, 59, 59), "Tue Nov 17 23:59:59 2026"),
        ((2027, 1, 1, 0, 0, 0), "Fri Jan  1 00:00:00 2027"),
        ((2024, 2, 29, 12, 0, 0), "Thu Feb 29 12:00:00 2024"),
    ],
)
def test_the_date_is_ctime_style_as_vsftpd_writes_it(
    moment: tuple[int, int, int, int, int, int], stamp: str
) -> None:
    at = calendar.timegm((*moment, 0, 0, 0))
    assert vsftpd(replace(UPLOAD, finished_at=at)).startswith(stamp + " [pid 4242]")
    assert xferlog(replace(UPLOAD, finished_at=at)).startswith(stamp + " 2 ")
    assert time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(at)) == stamp  # as ctime(3)


@pytest.fixture
def half_past_five_east(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "XYZ-5:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("half_past_five_east")
def test_use_localtime() -> None:
    local = vsftpd_transfer_line(UPLOAD, pid=1, use_localtime=True)
    assert local.startswith("Sat Nov  7 13:35:09 2026 [pid 1]")
    assert xferlog_line(UPLOAD, use_localtime=True).startswith("Sat Nov  7 13:35:09 2026 ")
    assert vsftpd(UPLOAD).startswith(STAMP)


# -- vsftpd.log ---------------------------------------------------------------------------------

TRANSFER_TABLE: list[tuple[str, TransferRecord, str]] = [
    ("upload", UPLOAD,
     f'{STAMP} [pid 4242] [alice] OK UPLOAD: Client "192.0.2.7", "/inbox/a.csv", 2048 bytes, '
     "1.00Kbyte/sec"),
    ("download, failed", replace(UPLOAD, direction=Direction.DOWNLOAD, complete=False,
                                 bytes_transferred=512, seconds=0.25),
     f'{STAMP} [pid 4242] [alice] FAIL DOWNLOAD: Client "192.0.2.7", "/inbox/a.csv", '
     "512 bytes, 2.00Kbyte/sec"),
    ("ftps is shown as ftp", replace(UPLOAD, protocol="ftps"),
     f'{STAMP} [pid 4242] [alice] OK UPLOAD: Client "192.0.2.7", "/inbox/a.csv", 2048 bytes, '
     "1.00Kbyte/sec"),
    ("sftp is named", replace(UPLOAD, protocol="sftp"),
     f'{STAMP} [pid 4242] [alice] [sftp] OK UPLOAD: Client "192.0.2.7", "/inbox/a.csv", '
     "2048 bytes, 1.00Kbyte/sec"),
    # vsftpd leaves the byte count out when it is 0
    ("empty file", replace(UPLOAD, bytes_transferred=0),
     f'{STAMP} [pid 4242] [alice] OK UPLOAD: Client "192.0.2.7", "/inbox/a.csv", '
     "0.00Kbyte/sec"),
    # vsftpd takes 0.1 s when no time passed
    ("no time passed", replace(UPLOAD, seconds=0.0, bytes_transferred=1024),
     f'{STAMP} [pid 4242] [alice] OK UPLOAD: Client "192.0.2.7", "/inbox/a.csv", 1024 bytes, '
     "10.00Kbyte/sec"),
    ("IPv6 client, odd names", replace(UPLOAD, client_address="2001:db8::7",
                                      path='/a "quoted" caf\u00e9'),
     f'{STAMP} [pid 4242] [alice] OK UPLOAD: Client "2001:db8::7", "/a "quoted" caf\u00e9", '
     "2048 bytes, 1.00Kbyte/sec"),
    ("a newline in a name cannot forge a line", replace(UPLOAD, path="/x\nSat Nov  7 [pid 1]"),
     f'{STAMP} [pid 4242] [alice] OK UPLOAD: Client "192.0.2.7", "/x?Sat Nov  7 [pid 1]", '
     "2048 bytes, 1.00Kbyte/sec"),
    ("control bytes, DEL, C1, undecodable bytes", replace(UPLOAD, path="/\x1b[31m\x7f\x85\udce9"),
     f'{STAMP} [pid 4242] [alice] OK UPLOAD: Client "192.0.2.7", "/?[31m???", '
     "2048 bytes, 1.00Kbyte/sec"),
]


@pytest.mark.parametrize(
    ("record", "line"), [row[1:] for row in TRANSFER_TABLE], ids=[row[0] for row in TRANSFER_TABLE]
)
def test_vsftpd_transfer_line(record: TransferRecord, line: str) -> None:
    assert vsftpd(record) == line


def event(kind: EventKind, **changes: object) -> EventRecord:
    record = EventRecord(kind=kind, protocol="ftp", user="alice", client_address="192.0.2.7",
                         detail="", ok=True, at=AT)
    return replace(record, **changes)  # type: ignore[arg-type]


EVENT_TABLE: list[tuple[str, EventRecord, str]] = [
    ("connect has no OK and no user", event(EventKind.CONNECT, user=""),
     f'{STAMP} [pid 7] CONNECT: Client "192.0.2.7"'),
    ("login", event(EventKind.LOGIN),
     f'{STAMP} [pid 7] [alice] OK LOGIN: Client "192.0.2.7"'),
    ("failed login", event(EventKind.LOGIN, ok=False, user="mallory"),
     f'{STAMP} [pid 7] [mallory] FAIL LOGIN: Client "192.0.2.7"'),
    ("mkdir with its path", event(EventKind.MKDIR, detail="/new"),
     f'{STAMP} [pid 7] [alice] OK MKDIR: Client "192.0.2.7", "/new"'),
    ("rename", event(EventKind.RENAME, detail="/a /b"),
     f'{STAMP} [pid 7] [alice] OK RENAME: Client "192.0.2.7", "/a /b"'),
    ("sftp delete", event(EventKind.DELETE, protocol="sftp", detail="/x"),
     f'{STAMP} [pid 7] [alice] [sftp] OK DELETE: Client "192.0.2.7", "/x"'),
    ("failed rmdir", event(EventKind.RMDIR, ok=False, detail="/full"),
     f'{STAMP} [pid 7] [alice] FAIL RMDIR: Client "192.0.2.7", "/full"'),
    ("chmod, control characters", event(EventKind.CHMOD, detail="/a\r\nb"),
     f'{STAMP} [pid 7] [alice] OK CHMOD: Client "192.0.2.7", "/a??b"'),
]


@pytest.mark.parametrize(
    ("record", "line"), [row[1:] for row in EVENT_TABLE], ids=[row[0] for row in EVENT_TABLE]
)
def test_vsftpd_event_line(record: EventRecord, line: str) -> None:
    assert vsftpd_event_line(record, pid=7, use_localtime=False) == line


@pytest.mark.parametrize(
    ("inbound", "user", "line", "expected"),
    [
        (True, "", "USER alice", f'{STAMP} [pid 9] FTP command: Client "::1", "USER alice"'),
        (True, "alice", "PASS <password>",
         f'{STAMP} [pid 9] [alice] FTP command: Client "::1", "PASS <password>"'),
        (False, "alice", "226 Transfer complete.",
         f'{STAMP} [pid 9] [alice] FTP response: Client "::1", "226 Transfer complete."'),
        (True, "alice", "CWD \x1b]0;owned\x07",
         f'{STAMP} [pid 9] [alice] FTP command: Client "::1", "CWD ?]0;owned?"'),
    ],
)
def test_vsftpd_protocol_line(inbound: bool, user: str, line: str, expected: str) -> None:
    assert vsftpd_protocol_line(AT, pid=9, use_localtime=False, user=user, client_address="::1",
                                inbound=inbound, line=line) == expected


# -- xferlog ------------------------------------------------------------------------------------


def test_xferlog_fields() -> None:
    fields = xferlog(UPLOAD).split(" ")
    # ctime's five fields (the padded day makes an empty one), then the fourteen of xferlog
    assert fields[:6] == ["Sat", "Nov", "", "7", "08:05:09", "2026"]
    assert fields[6:] == [
        "2",  # transfer time, seconds
        "192.0.2.7",  # remote host
        "2048",  # file size
        "/inbox/a.csv",  # file name
        "b",  # binary
        "_",  # no special action
        "i",  # incoming
        "r",  # real user
        "alice",
        "ftp",  # service
        "0",  # no authentication method
        "*",  # no authenticated user id
        "c",  # complete
    ]


XFERLOG_TABLE: list[tuple[str, TransferRecord, str]] = [
    ("upload", UPLOAD, f"{STAMP} 2 192.0.2.7 2048 /inbox/a.csv b _ i r alice ftp 0 * c"),
    ("ascii download, incomplete",
     replace(UPLOAD, direction=Direction.DOWNLOAD, ascii_mode=True, complete=False),
     f"{STAMP} 2 192.0.2.7 2048 /inbox/a.csv a _ o r alice ftp 0 * i"),
    ("under a second counts as 1", replace(UPLOAD, seconds=0.01),
     f"{STAMP} 1 192.0.2.7 2048 /inbox/a.csv b _ i r alice ftp 0 * c"),
    ("no time counts as 1", replace(UPLOAD, seconds=0.0),
     f"{STAMP} 1 192.0.2.7 2048 /inbox/a.csv b _ i r alice ftp 0 * c"),
    ("seconds are rounded", replace(UPLOAD, seconds=61.6),
     f"{STAMP} 62 192.0.2.7 2048 /inbox/a.csv b _ i r alice ftp 0 * c"),
    ("spaces in names become underscores", replace(UPLOAD, path="/my file  v2.csv"),
     f"{STAMP} 2 192.0.2.7 2048 /my_file__v2.csv b _ i r alice ftp 0 * c"),
    ("a newline in a name cannot forge a line", replace(UPLOAD, path="/a\nb"),
     f"{STAMP} 2 192.0.2.7 2048 /a?b b _ i r alice ftp 0 * c"),
    ("sftp", replace(UPLOAD, protocol="sftp"),
     f"{STAMP} 2 192.0.2.7 2048 /inbox/a.csv b _ i r alice sftp 0 * c"),
    ("scp is named too", replace(UPLOAD, protocol="scp"),
     f"{STAMP} 2 192.0.2.7 2048 /inbox/a.csv b _ i r alice scp 0 * c"),
    ("ftps is ftp", replace(UPLOAD, protocol="ftps"),
     f"{STAMP} 2 192.0.2.7 2048 /inbox/a.csv b _ i r alice ftp 0 * c"),
    ("empty file", replace(UPLOAD, bytes_transferred=0),
     f"{STAMP} 2 192.0.2.7 0 /inbox/a.csv b _ i r alice ftp 0 * c"),
]


@pytest.mark.parametrize(
    ("record", "line"), [row[1:] for row in XFERLOG_TABLE], ids=[row[0] for row in XFERLOG_TABLE]
)
def test_xferlog_line(record: TransferRecord, line: str) -> None:
    assert xferlog(record) == line


def test_json_lines_carry_every_field_and_escape_control_characters() -> None:
    transfer = TransferRecord(
        protocol="sftp", user="alice", client_address="192.0.2.7", path="/in/bad\nname\udcff",
        direction=Direction.UPLOAD, bytes_transferred=1234, seconds=0.5, ascii_mode=False,
        complete=True, finished_at=0.0,
    )
    line = json_transfer_line(transfer, pid=42, use_localtime=False)
    assert "\n" not in line and line.isascii()
    assert json.loads(line) == {
        "time": "1970-01-01T00:00:00.000+00:00", "pid": 42, "event": "transfer",
        "protocol": "sftp", "user": "alice", "client": "192.0.2.7",
        "path": "/in/bad\nname\udcff", "direction": "upload", "bytes": 1234, "seconds": 0.5,
        "ascii": False, "complete": True,
    }
    event = EventRecord(kind=EventKind.LOGIN, protocol="ftps", user="bob",
                        client_address="::1", detail="", ok=False, at=1.5)
    assert json.loads(json_event_line(event, pid=1, use_localtime=False)) == {
        "time": "1970-01-01T00:00:01.500+00:00", "pid": 1, "event": "login",
        "protocol": "ftps", "user": "bob", "client": "::1", "ok": False, "detail": "",
    }
    command = json.loads(json_protocol_line(0.0, pid=1, use_localtime=False, user="",
                                            client_address="::1", inbound=True, line="USER x"))
    assert command["event"] == "ftp_command" and command["line"] == "USER x"
