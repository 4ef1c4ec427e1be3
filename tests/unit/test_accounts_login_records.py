"""session_support's utmp/wtmp records: glibc's layout, readable by `last`."""

from __future__ import annotations

import ctypes
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ferryd.accounts.login_records import (
    DEAD_PROCESS,
    USER_PROCESS,
    LoginRecordError,
    Utmpx,
    append_to_wtmp,
    login_record,
)

RECORD = struct.Struct("<h2xi32s4s32s256shhiii16s20s")  # struct utmpx, 64-bit glibc


def test_a_login_and_its_logout_as_last_reads_them(tmp_path: Path) -> None:
    wtmp = tmp_path / "wtmp"
    wtmp.touch()
    append_to_wtmp(login_record(USER_PROCESS, line="ferryd:42", pid=42, user="alice",
                                host="client.example", now=1_700_000_000.25), str(wtmp))
    append_to_wtmp(login_record(DEAD_PROCESS, line="ferryd:42", pid=42,
                                now=1_700_000_100.0), str(wtmp))
    data = wtmp.read_bytes()
    assert ctypes.sizeof(Utmpx) == RECORD.size == 384 and len(data) == 2 * RECORD.size
    login = RECORD.unpack_from(data, 0)
    assert login[:2] == (USER_PROCESS, 42)
    assert [field.rstrip(b"\0") for field in (login[2], login[4], login[5])] == [
        b"ferryd:42", b"alice", b"client.example"]
    assert login[9:11] == (1_700_000_000, 250_000)
    logout = RECORD.unpack_from(data, RECORD.size)
    assert logout[0] == DEAD_PROCESS and logout[4].rstrip(b"\0") == b""
    if shutil.which("last"):
        shown = subprocess.run(["last", "-f", str(wtmp)], capture_output=True, text=True,
                               check=True, timeout=30).stdout
        assert "alice    ferryd:42" in shown and "still logged in" not in shown


def test_long_fields_are_cut_and_a_missing_wtmp_is_an_error(tmp_path: Path) -> None:
    record = login_record(USER_PROCESS, line="x" * 40, pid=1, user="u" * 40, host="h" * 300)
    assert (len(record.ut_line), len(record.ut_user), len(record.ut_host)) == (32, 32, 256)
    with pytest.raises(LoginRecordError, match="does not exist"):
        append_to_wtmp(record, str(tmp_path / "no-wtmp"))
