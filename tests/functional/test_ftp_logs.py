"""Transfer logs: vsftpd's own format (vsftpd_log_file), wu-ftpd xferlog, both with
dual_log_enable; log_ftp_protocol logs every command and reply with the password masked."""

from __future__ import annotations

import io
import json
import re
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.functional.conftest import StartFerryd
from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import (
    PASSWORD,
    PLAIN,
    RawFtp,
    ftp_client,
    shared_server,
    wait_until,
)

_STAMP = r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}"


@dataclass
class LoggingServer:
    server: RunningFerryd
    vsftpd_log: Path
    xferlog: Path


@pytest.fixture(scope="module")
def logging_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggingServer]:
    folder = tmp_path_factory.mktemp("logs")
    vsftpd_log, xferlog = folder / "vsftpd.log", folder / "xferlog"
    config = PLAIN + (
        f"xferlog_enable=YES\nxferlog_std_format=YES\ndual_log_enable=YES\n"
        f"log_ftp_protocol=YES\nvsftpd_log_file={vsftpd_log}\nxferlog_file={xferlog}\n"
    )
    with shared_server(tmp_path_factory, config) as running:
        yield LoggingServer(running, vsftpd_log, xferlog)


def _line_with(path: Path, pattern: str) -> str:
    """The first line matching `pattern`, waiting (bounded) for the log writer thread."""
    regex = re.compile(pattern)

    def found() -> bool:
        return path.exists() and any(regex.search(line) for line in _lines(path))

    assert wait_until(found), f"no line matching {pattern!r} in {path}:\n{_text(path)}"
    return next(line for line in _lines(path) if regex.search(line))


def _lines(path: Path) -> list[str]:
    return _text(path).splitlines()


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def test_vsftpd_format_records_uploads_downloads_and_events(
    logging_server: LoggingServer,
) -> None:
    server, log = logging_server.server, logging_server.vsftpd_log
    with ftp_client(server) as client:
        client.storbinary("STOR logged.bin", io.BytesIO(b"L" * 12_345))
        client.retrbinary("RETR logged.bin", lambda _block: None)
        client.mkd("logged-dir")
    upload = _line_with(log, r'OK UPLOAD: .*"/logged\.bin"')
    assert re.fullmatch(
        _STAMP + r' \[pid \d+\] \[alice\] OK UPLOAD: Client "127\.0\.0\.1", "/logged\.bin", '
        r"12345 bytes, [\d.]+Kbyte/sec", upload,
    ), upload
    download = _line_with(log, r'OK DOWNLOAD: .*"/logged\.bin"')
    assert ', 12345 bytes, ' in download and "[alice]" in download
    _line_with(log, r'\[alice\] OK MKDIR: Client "127\.0\.0\.1", "/logged-dir"')
    _line_with(log, r'\[alice\] OK LOGIN: Client "127\.0\.0\.1"')


def test_xferlog_format(logging_server: LoggingServer) -> None:
    server, xferlog = logging_server.server, logging_server.xferlog
    with ftp_client(server) as client:
        client.storbinary("STOR x ferlog.bin", io.BytesIO(b"X" * 777))
    line = _line_with(xferlog, r" /x_ferlog\.bin ")
    assert re.fullmatch(
        _STAMP + r" \d+ 127\.0\.0\.1 777 /x_ferlog\.bin b _ i r alice ftp 0 \* c", line
    ), line


def test_protocol_log_masks_the_password(logging_server: LoggingServer) -> None:
    server, log = logging_server.server, logging_server.vsftpd_log
    with ftp_client(server) as client:
        client.voidcmd("NOOP")
        client.sendcmd("SYST")
    _line_with(log, r'FTP command: Client "127\.0\.0\.1", "PASS <password>"')
    _line_with(log, r'FTP command: Client "127\.0\.0\.1", "USER alice"')
    _line_with(log, r'\[alice\] FTP response: Client "127\.0\.0\.1", "215 UNIX Type: L8"')
    assert PASSWORD not in _text(log)
    assert PASSWORD not in _text(logging_server.xferlog)
    assert PASSWORD not in server.read_stderr()


def test_a_failed_login_is_logged_without_the_password(
    logging_server: LoggingServer,
) -> None:
    server, log = logging_server.server, logging_server.vsftpd_log
    with ftp_client(server) as client:  # a working session, to know the log is current
        client.voidcmd("NOOP")
    with pytest.raises(Exception, match=r"530"), ftp_client(server, password="Wr0ng-Secret"):
        pass
    _line_with(log, r'FAIL LOGIN: Client "127\.0\.0\.1"')
    assert "Wr0ng-Secret" not in _text(log)


def test_a_failed_upload_logs_the_bytes_received(logging_server: LoggingServer) -> None:
    server, log = logging_server.server, logging_server.vsftpd_log
    target = server.home("alice") / "cut-short.bin"
    with RawFtp(server.host, server.port) as raw:
        raw.login()
        data = raw.pasv()
        assert raw.cmd("STOR cut-short.bin").code == 150
        data.sendall(b"c" * 40_000)
        assert wait_until(lambda: target.exists() and target.stat().st_size == 40_000)
        data.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        data.close()  # a reset: the client died
        assert raw.reply().code == 426
    line = _line_with(log, r'FAIL UPLOAD: .*"/cut-short\.bin"')
    assert ", 40000 bytes, " in line, line
    _line_with(logging_server.xferlog, r" 40000 /cut-short\.bin b _ i r alice ftp 0 \* i$")


def _logging_config(folder: Path, options: str) -> tuple[Path, Path, str]:
    """(vsftpd log, xferlog, config): PLAIN with `options` and both logs in `folder`."""
    vsftpd_log, xferlog = folder / "vsftpd.log", folder / "xferlog"
    return vsftpd_log, xferlog, PLAIN + options + (
        f"vsftpd_log_file={vsftpd_log}\nxferlog_file={xferlog}\n"
    )


def test_xferlog_alone_without_dual_logging(start_ferryd: StartFerryd, tmp_path: Path) -> None:
    """xferlog_std_format=YES without dual_log_enable: xferlog only, no vsftpd.log."""
    vsftpd_log, xferlog, config = _logging_config(
        tmp_path, "xferlog_enable=YES\nxferlog_std_format=YES\n"
    )
    with start_ferryd(config) as running, ftp_client(running) as client:
        client.storbinary("STOR solo.bin", io.BytesIO(b"s"))
        _line_with(xferlog, r" 1 /solo\.bin b _ i r alice ftp 0 \* c$")
    assert not vsftpd_log.exists() or "UPLOAD" not in _text(vsftpd_log)


def test_json_log_format(start_ferryd: StartFerryd, tmp_path: Path) -> None:
    vsftpd_log, xferlog, config = _logging_config(
        tmp_path, "xferlog_enable=YES\ndual_log_enable=YES\nlog_ftp_protocol=YES\nlog_format=json\n"
    )
    with start_ferryd(config) as server, ftp_client(server) as client:
        client.storbinary("STOR report.csv", io.BytesIO(b"a,b\n" * 100))
    transfer = json.loads(_line_with(vsftpd_log, r'"event":"transfer"'))
    assert transfer["user"] == "alice" and transfer["path"] == "/report.csv"
    assert (transfer["direction"], transfer["bytes"], transfer["complete"]) == ("upload", 400, True)
    login = json.loads(_line_with(vsftpd_log, r'"event":"login"'))
    assert login["ok"] is True and login["client"] == "127.0.0.1"
    password = json.loads(_line_with(vsftpd_log, r'"line":"PASS'))
    assert password["event"] == "ftp_command" and PASSWORD not in password["line"]
    for line in _lines(vsftpd_log):
        json.loads(line)  # every line is one JSON object
    assert re.search(r" /report\.csv b _ i r alice ftp 0 \* c$", _line_with(xferlog, "report"))
