"""What one control connection remembers between commands."""

from __future__ import annotations

from dataclasses import dataclass, field

from ferryd.ftp.proto.facts import DEFAULT_FACTS
from ferryd.session.file_session import FileSession


@dataclass(slots=True)
class ConnectionState:
    """What the commands of one control connection remember between them."""

    user_name: str | None = None
    session: FileSession | None = None
    ascii_type: bool = False
    restart_offset: int = 0
    rename_source: str | None = None
    protected_data: bool = False  # PROT P
    pbsz_done: bool = False
    epsv_all: bool = False
    login_failures: int = 0
    anonymous: bool = False  # logged in anonymously: the force_anon_* TLS rules apply
    mlst_facts: frozenset[str] = field(default_factory=lambda: DEFAULT_FACTS)
    hash_algorithm: str = "SHA-256"
    # frozen, replaced when it grows: most sessions never show a message, and an empty set
    # is 216 bytes of every idle session
    folders_with_message_shown: frozenset[str] = frozenset()

    def take_restart_offset(self) -> int:
        offset, self.restart_offset = self.restart_offset, 0
        return offset
