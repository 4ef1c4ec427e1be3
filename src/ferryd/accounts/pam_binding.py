"""libpam through ctypes: one PAM transaction, as vsftpd and OpenSSH drive it.

python-pam (the library ferryd used before) runs pam_start and pam_authenticate in one call,
so it cannot set PAM_RHOST and PAM_TTY before authenticating (pam_access rules on the remote
host need them), nor open a session for a login that had no password (an SSH key); pamela
opens and closes sessions on separate handles, which loses what modules keep in the handle.
The part of libpam ferryd needs is small and stable (the Linux-PAM and OpenPAM ABI since the
1990s), so it is bound here directly. Every call blocks: callers run it in a worker thread
(one at a time: PAM modules are not all thread-safe) or in the session helper process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from typing import Any

PAM_SUCCESS = 0
PAM_PROMPT_ECHO_OFF = 1
PAM_PROMPT_ECHO_ON = 2
PAM_BUF_ERR = 5
PAM_CONV_ERR = 19
PAM_TTY = 3
PAM_RHOST = 4
PAM_ESTABLISH_CRED = 0x2
PAM_DELETE_CRED = 0x4
PAM_SILENT = 0x8000


class PamError(Exception):
    """A PAM call failed; the text names the call and PAM's reason."""


class _Message(ctypes.Structure):
    _fields_ = (("msg_style", ctypes.c_int), ("msg", ctypes.c_char_p))


class _Response(ctypes.Structure):
    _fields_ = (("resp", ctypes.c_void_p), ("resp_retcode", ctypes.c_int))


_CONVERSE = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.POINTER(_Message)),
    ctypes.POINTER(ctypes.POINTER(_Response)), ctypes.c_void_p,
)


class _Conversation(ctypes.Structure):
    _fields_ = (("conv", _CONVERSE), ("appdata_ptr", ctypes.c_void_p))


def load_library(soname: str, name: str) -> ctypes.CDLL | None:
    """The library by its usual soname (no ldconfig run per login), else wherever ctypes
    finds it; None when it is not installed."""
    try:
        return ctypes.CDLL(soname)
    except OSError:
        path = ctypes.util.find_library(name)
        return ctypes.CDLL(path) if path else None


def _libraries() -> tuple[ctypes.CDLL, ctypes.CDLL]:
    libpam, libc = load_library("libpam.so.0", "pam"), load_library("libc.so.6", "c")
    if libpam is None or libc is None:
        raise PamError("libpam is not installed (Debian: apt-get install libpam0g)")
    libpam.pam_start.argtypes = (ctypes.c_char_p, ctypes.c_char_p,
                                 ctypes.POINTER(_Conversation), ctypes.POINTER(ctypes.c_void_p))
    libpam.pam_set_item.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)
    libpam.pam_end.argtypes = (ctypes.c_void_p, ctypes.c_int)
    libpam.pam_strerror.argtypes = (ctypes.c_void_p, ctypes.c_int)
    libpam.pam_strerror.restype = ctypes.c_char_p
    for call in ("pam_authenticate", "pam_acct_mgmt", "pam_setcred", "pam_open_session",
                 "pam_close_session"):
        getattr(libpam, call).argtypes = (ctypes.c_void_p, ctypes.c_int)
    libc.calloc.argtypes = (ctypes.c_size_t, ctypes.c_size_t)
    libc.calloc.restype = ctypes.c_void_p
    libc.strdup.argtypes = (ctypes.c_char_p,)
    libc.strdup.restype = ctypes.c_void_p
    return libpam, libc


def _answerer(libc: ctypes.CDLL, password: bytes | None) -> Any:
    """The conversation function: the password for a hidden prompt, nothing for messages;
    a visible prompt (a question ferryd cannot ask its client) fails the conversation."""

    def converse(count: int, messages: Any, responses: Any, _data: Any) -> int:
        styles = [messages[index].contents.msg_style for index in range(count)]
        if any(style == PAM_PROMPT_ECHO_ON or (style == PAM_PROMPT_ECHO_OFF and password is None)
               for style in styles):
            return PAM_CONV_ERR  # a question ferryd cannot put to its client
        answers = libc.calloc(count, ctypes.sizeof(_Response))
        if not answers:
            return PAM_BUF_ERR
        array = ctypes.cast(answers, ctypes.POINTER(_Response))
        for index, style in enumerate(styles):
            if style == PAM_PROMPT_ECHO_OFF:
                array[index].resp = libc.strdup(password)  # PAM frees what it is given
        responses[0] = array
        return PAM_SUCCESS

    return _CONVERSE(converse)


class PamTransaction:
    """pam_start .. pam_end for one user of one service, with PAM_RHOST and PAM_TTY set."""

    def __init__(self, service: str, user: str, *, rhost: str, tty: str,
                 password: str | None = None) -> None:
        self._libpam, libc = _libraries()
        self._callback = _answerer(libc, None if password is None else password.encode())
        self._conversation = _Conversation(self._callback, None)  # kept alive with the handle
        self._handle = ctypes.c_void_p()
        status = self._libpam.pam_start(service.encode(), user.encode(),
                                        ctypes.byref(self._conversation),
                                        ctypes.byref(self._handle))
        if status != PAM_SUCCESS:
            raise PamError(f"pam_start({service}): error {status}")
        self._status = PAM_SUCCESS
        self._call("pam_set_item", PAM_RHOST, rhost.encode())
        self._call("pam_set_item", PAM_TTY, tty.encode())

    def _call(self, name: str, *arguments: object) -> None:
        call: Callable[..., int] = getattr(self._libpam, name)
        status = call(self._handle, *arguments)
        if status != PAM_SUCCESS:
            self._status = status
            reason = self._libpam.pam_strerror(self._handle, status) or b"unknown error"
            raise PamError(f"{name}: {reason.decode(errors='replace')}")

    def authenticate(self) -> None:
        """The password, then the account checks (locked, expired, pam_access ...)."""
        self._call("pam_authenticate", PAM_SILENT)
        self._call("pam_acct_mgmt", PAM_SILENT)

    def check_account(self) -> None:
        self._call("pam_acct_mgmt", PAM_SILENT)

    def open_session(self) -> None:
        self._call("pam_setcred", PAM_ESTABLISH_CRED | PAM_SILENT)
        self._call("pam_open_session", PAM_SILENT)

    def close_session(self) -> None:
        try:
            self._call("pam_close_session", PAM_SILENT)
        finally:
            self._call("pam_setcred", PAM_DELETE_CRED | PAM_SILENT)

    def end(self) -> None:
        if self._handle:
            self._libpam.pam_end(self._handle, self._status)
            self._handle = ctypes.c_void_p()
