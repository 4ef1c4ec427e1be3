"""TYPE A conversion as vsftpd does it, chunk by chunk (a CRLF may span two chunks). Pure."""

from __future__ import annotations


class AsciiDownloadEncoder:
    """LF -> CRLF for downloads; an LF already preceded by CR is left alone."""

    def __init__(self) -> None:
        self._last_was_cr = False

    def encode(self, data: bytes) -> bytes:
        if not data:
            return data
        out = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if self._last_was_cr and data[:1] == b"\n":
            out = out[1:]  # the CR ending the previous chunk already pairs with this LF
        self._last_was_cr = data[-1:] == b"\r"
        return out


class AsciiUploadDecoder:
    """CRLF -> LF for uploads; a lone CR is kept. A trailing CR waits for the next chunk."""

    def __init__(self) -> None:
        self._pending_cr = False

    def decode(self, data: bytes) -> bytes:
        if self._pending_cr:
            data = b"\r" + data
            self._pending_cr = False
        if data.endswith(b"\r"):
            self._pending_cr = True
            data = data[:-1]
        return data.replace(b"\r\n", b"\n")

    def flush(self) -> bytes:
        """What is left when the upload ends (a CR that no LF followed)."""
        if self._pending_cr:
            self._pending_cr = False
            return b"\r"
        return b""
