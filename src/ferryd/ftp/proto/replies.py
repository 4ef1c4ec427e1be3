"""FTP replies as data, and their bytes on the wire (RFC 959 section 4.2)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply; `text` with newlines becomes a multi-line reply whose last line is the end."""

    code: int
    text: str

    @property
    def is_error(self) -> bool:
        return self.code >= 400

    def lines(self) -> list[str]:
        parts = self.text.split("\n")
        if len(parts) == 1:
            return [f"{self.code} {parts[0]}"]
        middle = [line if not line[:3].isdigit() else " " + line for line in parts[1:-1]]
        return [f"{self.code}-{parts[0]}", *middle, f"{self.code} {parts[-1]}"]

    def to_bytes(self) -> bytes:
        return "".join(line + "\r\n" for line in self.lines()).encode("utf-8", "surrogateescape")
