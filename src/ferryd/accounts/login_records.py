"""utmp and wtmp records of a login (session_support=YES), as vsftpd writes them.

glibc's pututxline() and updwtmpx() do the locking and the file layout; the record is
`struct utmpx` of 64-bit glibc (384 bytes, 32-bit times: the on-disk format). A login is a
USER_PROCESS record, its end a DEAD_PROCESS record on the same line. Blocking; root only.
"""

from __future__ import annotations

import ctypes
import os
import time

from ferryd.accounts.pam_binding import load_library

USER_PROCESS = 7
DEAD_PROCESS = 8
WTMP_FILE = "/var/log/wtmp"
UTMP_FILE = "/var/run/utmp"  # glibc's _PATH_UTMP, where pututxline writes
UTMP_SIZE = 384


class LoginRecordError(Exception):
    """The records cannot be written here (not glibc, another layout)."""


class _ExitStatus(ctypes.Structure):
    _fields_ = (("e_termination", ctypes.c_short), ("e_exit", ctypes.c_short))


class _TimeValue(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_int32), ("tv_usec", ctypes.c_int32))


class Utmpx(ctypes.Structure):
    _fields_ = (
        ("ut_type", ctypes.c_short), ("ut_pid", ctypes.c_int),
        ("ut_line", ctypes.c_char * 32), ("ut_id", ctypes.c_char * 4),
        ("ut_user", ctypes.c_char * 32), ("ut_host", ctypes.c_char * 256),
        ("ut_exit", _ExitStatus), ("ut_session", ctypes.c_int32), ("ut_tv", _TimeValue),
        ("ut_addr_v6", ctypes.c_int32 * 4), ("reserved", ctypes.c_char * 20),
    )


def _libc() -> ctypes.CDLL:
    if ctypes.sizeof(Utmpx) != UTMP_SIZE:
        raise LoginRecordError("unexpected struct utmpx layout")
    libc = load_library("libc.so.6", "c")
    if libc is None or not hasattr(libc, "updwtmpx"):
        raise LoginRecordError("the C library has no updwtmpx (not glibc)")
    libc.pututxline.argtypes = (ctypes.POINTER(Utmpx),)
    libc.pututxline.restype = ctypes.c_void_p
    libc.updwtmpx.argtypes = (ctypes.c_char_p, ctypes.POINTER(Utmpx))
    return libc


def login_record(kind: int, *, line: str, pid: int, user: str = "", host: str = "",
                 now: float | None = None) -> Utmpx:
    """A record as vsftpd fills it (truncated fields, as C's strncpy would)."""
    moment = time.time() if now is None else now
    record = Utmpx()
    record.ut_type = kind
    record.ut_pid = pid
    record.ut_line = line.encode()[:32]
    record.ut_user = user.encode()[:32]
    record.ut_host = host.encode()[:256]
    record.ut_tv = _TimeValue(int(moment), int(moment % 1 * 1_000_000))
    return record


def append_to_wtmp(record: Utmpx, wtmp_file: str = WTMP_FILE) -> None:
    """LoginRecordError when there is no wtmp file (glibc never creates it, and says
    nothing)."""
    libc = _libc()
    if not os.path.isfile(wtmp_file):
        raise LoginRecordError(f"{wtmp_file} does not exist (create it: touch {wtmp_file})")
    libc.updwtmpx(wtmp_file.encode(), ctypes.byref(record))


def update_utmp(record: Utmpx) -> bool:
    """Whether utmp took the record (glibc does not create a missing utmp: many containers
    have none, and then only wtmp is written, as login(1) and sshd do)."""
    libc = _libc()
    libc.setutxent()
    try:
        return libc.pututxline(ctypes.byref(record)) is not None
    finally:
        libc.endutxent()
