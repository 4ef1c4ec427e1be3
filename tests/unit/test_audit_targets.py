"""Which logs get written, from vsftpd's options, as vsftpd decides (logging.c vsf_log_init)."""

from __future__ import annotations

import pytest

from ferryd.audit.file_sink import AuditTargets, targets_from_options

VSFTPD_LOG = "/var/log/vsftpd.log"
XFERLOG = "/var/log/xferlog"


def targets(**options: bool) -> AuditTargets:
    settings = {
        "xferlog_enable": False, "xferlog_std_format": False, "dual_log_enable": False,
        "syslog_enable": False, "log_ftp_protocol": False, "use_localtime": False,
    }
    settings.update(options)
    return targets_from_options(xferlog_file=XFERLOG, vsftpd_log_file=VSFTPD_LOG, **settings)


# (options, vsftpd.log file, xferlog file, syslog, protocol lines)
TABLE: list[tuple[str, dict[str, bool], str | None, str | None, bool, bool]] = [
    ("nothing on", {}, None, None, False, False),
    ("xferlog_enable: vsftpd's own format", {"xferlog_enable": True},
     VSFTPD_LOG, None, False, False),
    ("xferlog_std_format: wu-ftpd's instead",
     {"xferlog_enable": True, "xferlog_std_format": True}, None, XFERLOG, False, False),
    ("xferlog_std_format alone writes nothing", {"xferlog_std_format": True},
     None, None, False, False),
    ("dual_log_enable: both", {"xferlog_enable": True, "dual_log_enable": True},
     VSFTPD_LOG, XFERLOG, False, False),
    ("dual_log_enable with std format: both",
     {"xferlog_enable": True, "xferlog_std_format": True, "dual_log_enable": True},
     VSFTPD_LOG, XFERLOG, False, False),
    # vsf_log_init returns early only when neither xferlog_enable nor dual_log_enable is set
    ("dual_log_enable alone: both", {"dual_log_enable": True}, VSFTPD_LOG, XFERLOG, False, False),
    ("syslog_enable diverts vsftpd.log", {"xferlog_enable": True, "syslog_enable": True},
     None, None, True, False),
    ("syslog_enable with dual logging: xferlog stays a file",
     {"xferlog_enable": True, "dual_log_enable": True, "syslog_enable": True},
     None, XFERLOG, True, False),
    ("syslog_enable with std format: the xferlog file only",
     {"xferlog_enable": True, "xferlog_std_format": True, "syslog_enable": True},
     None, XFERLOG, False, False),
    ("syslog_enable alone: nothing would go to vsftpd.log", {"syslog_enable": True},
     None, None, False, False),
    ("log_ftp_protocol", {"xferlog_enable": True, "log_ftp_protocol": True},
     VSFTPD_LOG, None, False, True),
    ("log_ftp_protocol opens vsftpd.log by itself", {"log_ftp_protocol": True},
     VSFTPD_LOG, None, False, True),
    ("log_ftp_protocol is off with xferlog_std_format",
     {"xferlog_enable": True, "xferlog_std_format": True, "log_ftp_protocol": True},
     None, XFERLOG, False, False),
    ("log_ftp_protocol with dual logging goes to vsftpd.log",
     {"xferlog_enable": True, "xferlog_std_format": True, "dual_log_enable": True,
      "log_ftp_protocol": True},
     VSFTPD_LOG, XFERLOG, False, True),
    ("log_ftp_protocol to syslog",
     {"xferlog_enable": True, "syslog_enable": True, "log_ftp_protocol": True},
     None, None, True, True),
]


@pytest.mark.parametrize(
    ("options", "vsftpd_log", "xferlog", "syslog", "protocol"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_targets_from_options(
    options: dict[str, bool], vsftpd_log: str | None, xferlog: str | None, syslog: bool,
    protocol: bool,
) -> None:
    assert targets(**options) == AuditTargets(
        vsftpd_log_file=vsftpd_log, xferlog_file=xferlog, syslog=syslog, log_protocol=protocol,
        use_localtime=False,
    )


def test_use_localtime_is_passed_on() -> None:
    assert targets(xferlog_enable=True, use_localtime=True).use_localtime is True
    assert targets(use_localtime=True).use_localtime is True
