"""The atheris targets in fuzz/ run without atheris: a few inputs each, so they never rot."""

from __future__ import annotations

import pytest

from fuzz import config_parser, ftp_core

FTP_INPUTS = [b"", b"\x00", b"\x05USER a\r\nPASS b\r\nPWD\r\n", b"\x41" + b"x" * 2000,
              b"\x7fQUIT\r\nNOOP\r\n", b"\x01\xff\xf4\xff\xf2ABOR\r\n", b"\x02\r\n\r\n\n"]
CONFIG_INPUTS = [b"", b"listen=YES\nlisten_ipv6=YES\n", b"\xff\xfe=\x00", b"ssl_enable=maybe",
                 b"pasv_min_port=9\npasv_max_port=1\n", b"max_pending_logins=-1\n"]


@pytest.mark.parametrize("data", FTP_INPUTS)
def test_ftp_core_target(data: bytes) -> None:
    ftp_core.check(data)


@pytest.mark.parametrize("data", CONFIG_INPUTS)
def test_config_parser_target(data: bytes) -> None:
    config_parser.check(data)
