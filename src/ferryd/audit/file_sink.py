"""Writes audit records to vsftpd.log / xferlog / syslog from a background thread."""

from __future__ import annotations

import logging
import logging.handlers
import os
import queue
import time
from dataclasses import dataclass

from ferryd.audit.formats import (
    json_event_line,
    json_protocol_line,
    json_transfer_line,
    vsftpd_event_line,
    vsftpd_protocol_line,
    vsftpd_transfer_line,
    xferlog_line,
)
from ferryd.audit.records import EventRecord, TransferRecord


class AuditSetupError(Exception):
    """A log destination that cannot be opened; the text names it and the fix."""


@dataclass(frozen=True)
class AuditTargets:
    """Which logs to write, decided from the vsftpd options by `targets_from_options`."""

    vsftpd_log_file: str | None
    xferlog_file: str | None
    syslog: bool
    log_protocol: bool
    use_localtime: bool
    json: bool = False  # log_format=json: the vsftpd log stream as JSON objects, one a line


def targets_from_options(
    *, xferlog_enable: bool, xferlog_std_format: bool, xferlog_file: str,
    vsftpd_log_file: str, dual_log_enable: bool, syslog_enable: bool, log_ftp_protocol: bool,
    use_localtime: bool, log_format: str = "vsftpd",
) -> AuditTargets:
    """vsftpd's rules: xferlog_std_format picks xferlog over vsftpd.log unless dual logging;
    dual_log_enable writes both, with or without xferlog_enable (vsftpd's vsf_log_init);
    syslog_enable diverts the vsftpd.log stream to syslog; log_ftp_protocol needs vsftpd.log."""
    logging_on = xferlog_enable or dual_log_enable
    vsftpd_log = logging_on and (not xferlog_std_format or dual_log_enable)
    xferlog = logging_on and (xferlog_std_format or dual_log_enable)
    if log_ftp_protocol and not xferlog_std_format:
        vsftpd_log = True
    return AuditTargets(
        vsftpd_log_file=vsftpd_log_file if vsftpd_log and not syslog_enable else None,
        xferlog_file=xferlog_file if xferlog else None,
        syslog=vsftpd_log and syslog_enable,
        log_protocol=log_ftp_protocol and vsftpd_log,
        use_localtime=use_localtime,
        json=log_format == "json",
    )


def _file_handler(path: str) -> logging.Handler:
    try:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise AuditSetupError(f"{path}: cannot open the log file ({exc.strerror})") from exc
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler


class FileAuditSink:
    """Formats on the event loop (cheap), writes on a QueueListener thread (never blocks)."""

    def __init__(self, targets: AuditTargets) -> None:
        self._targets = targets
        self._pid = os.getpid()
        self._vsftpd = logging.Logger("ferryd.audit.vsftpd")
        self._xferlog = logging.Logger("ferryd.audit.xferlog")
        self._queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        handlers: list[logging.Handler] = []
        if targets.vsftpd_log_file:
            handlers.append(_routed(_file_handler(targets.vsftpd_log_file), self._vsftpd.name))
        if targets.syslog:
            try:
                syslog = logging.handlers.SysLogHandler(
                    address="/dev/log", facility=logging.handlers.SysLogHandler.LOG_FTP
                )
            except OSError as exc:
                raise AuditSetupError(
                    f"syslog_enable=YES but /dev/log is not reachable ({exc.strerror}); "
                    "start a syslog daemon or set syslog_enable=NO"
                ) from exc
            handlers.append(_routed(syslog, self._vsftpd.name))
        if targets.xferlog_file:
            handlers.append(_routed(_file_handler(targets.xferlog_file), self._xferlog.name))
        for logger in (self._vsftpd, self._xferlog):
            logger.addHandler(logging.handlers.QueueHandler(self._queue))
        self._listener = logging.handlers.QueueListener(
            self._queue, *handlers, respect_handler_level=False
        )
        self._handlers = handlers
        self._listener.start()

    def close(self) -> None:
        self._listener.stop()
        for handler in self._handlers:
            handler.close()

    def transfer(self, record: TransferRecord) -> None:
        localtime = self._targets.use_localtime
        if self._targets.vsftpd_log_file or self._targets.syslog:
            line = json_transfer_line if self._targets.json else vsftpd_transfer_line
            self._vsftpd.info(line(record, pid=self._pid, use_localtime=localtime))
        if self._targets.xferlog_file:
            self._xferlog.info(xferlog_line(record, use_localtime=localtime))

    def event(self, record: EventRecord) -> None:
        if self._targets.vsftpd_log_file or self._targets.syslog:
            line = json_event_line if self._targets.json else vsftpd_event_line
            self._vsftpd.info(
                line(record, pid=self._pid, use_localtime=self._targets.use_localtime)
            )

    def protocol_line(self, user: str, client_address: str, inbound: bool, line: str) -> None:
        if self._targets.log_protocol:
            format_line = json_protocol_line if self._targets.json else vsftpd_protocol_line
            self._vsftpd.info(
                format_line(
                    time.time(), pid=self._pid, use_localtime=self._targets.use_localtime,
                    user=user, client_address=client_address, inbound=inbound, line=line,
                )
            )


class _LoggerNameFilter(logging.Filter):
    def __init__(self, name: str) -> None:
        super().__init__()
        self._wanted = name

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == self._wanted


def _routed(handler: logging.Handler, logger_name: str) -> logging.Handler:
    handler.addFilter(_LoggerNameFilter(logger_name))
    return handler
