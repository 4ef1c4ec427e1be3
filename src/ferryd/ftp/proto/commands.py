"""Every FTP command, declared once: argument rule, login rule, help text.

The protocol core runs the generic checks from this table before any handler sees a command.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Argument(enum.Enum):
    NONE = "none"  # any argument is a syntax error
    REQUIRED = "required"
    OPTIONAL = "optional"


class Access(enum.Enum):
    ANYONE = "anyone"  # before and after login
    LOGGED_IN = "logged_in"


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    argument: Argument
    access: Access
    help: str
    alias_of: str | None = None  # XPWD -> PWD: one handler, two names
    during_transfer: bool = False  # handled while a transfer runs (ABOR, STAT, NOOP, QUIT)

    @property
    def handler_name(self) -> str:
        return self.alias_of or self.name


def _spec(
    name: str, argument: Argument, access: Access, help_text: str, *,
    alias_of: str | None = None, during_transfer: bool = False,
) -> CommandSpec:
    return CommandSpec(name, argument, access, help_text, alias_of, during_transfer)


_A, _N, _O, _R = Access.ANYONE, Argument.NONE, Argument.OPTIONAL, Argument.REQUIRED
_L = Access.LOGGED_IN

COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        # access control
        _spec("USER", _R, _A, "USER <name>: the user name"),
        _spec("PASS", _O, _A, "PASS <password>: the password"),
        _spec("ACCT", _R, _L, "ACCT <account>: accepted, not needed"),
        _spec("REIN", _N, _A, "REIN: log out, keep the connection"),
        _spec("QUIT", _N, _A, "QUIT: close the connection", during_transfer=True),
        _spec("AUTH", _R, _A, "AUTH TLS|SSL: secure the control connection"),
        _spec("PBSZ", _R, _A, "PBSZ 0: protection buffer size (TLS)"),
        _spec("PROT", _R, _A, "PROT C|P: data channel protection (TLS)"),
        _spec("CCC", _N, _A, "CCC: clear command channel (refused)"),
        # information
        _spec("SYST", _N, _A, "SYST: the system type"),
        _spec("FEAT", _N, _A, "FEAT: the extensions this server supports"),
        _spec("OPTS", _R, _A, "OPTS UTF8 ON | OPTS MLST facts; | OPTS HASH algo"),
        _spec("HELP", _O, _A, "HELP [command]: this help"),
        _spec("NOOP", _N, _A, "NOOP: do nothing", during_transfer=True),
        _spec("STAT", _O, _A, "STAT [path]: server status or a listing", during_transfer=True),
        _spec("SITE", _R, _L, "SITE CHMOD|UMASK|HELP: site commands"),
        # navigation
        _spec("PWD", _N, _L, "PWD: print the working folder"),
        _spec("XPWD", _N, _L, "XPWD: as PWD", alias_of="PWD"),
        _spec("CWD", _O, _L, "CWD <path>: change the working folder"),
        _spec("XCWD", _O, _L, "XCWD <path>: as CWD", alias_of="CWD"),
        _spec("CDUP", _N, _L, "CDUP: change to the parent folder"),
        _spec("XCUP", _N, _L, "XCUP: as CDUP", alias_of="CDUP"),
        # names
        _spec("MKD", _R, _L, "MKD <path>: make a folder"),
        _spec("XMKD", _R, _L, "XMKD <path>: as MKD", alias_of="MKD"),
        _spec("RMD", _R, _L, "RMD <path>: remove an empty folder"),
        _spec("XRMD", _R, _L, "XRMD <path>: as RMD", alias_of="RMD"),
        _spec("DELE", _R, _L, "DELE <path>: delete a file"),
        _spec("RNFR", _R, _L, "RNFR <path>: rename from"),
        _spec("RNTO", _R, _L, "RNTO <path>: rename to"),
        _spec("SIZE", _R, _L, "SIZE <path>: the file's size"),
        _spec("MDTM", _R, _L, "MDTM [YYYYMMDDHHMMSS] <path>: modification time"),
        _spec("MFMT", _R, _L, "MFMT YYYYMMDDHHMMSS <path>: set modification time"),
        # listings
        _spec("LIST", _O, _L, "LIST [-la] [path]: a long listing"),
        _spec("NLST", _O, _L, "NLST [path]: names only"),
        _spec("MLSD", _O, _L, "MLSD [path]: machine listing of a folder"),
        _spec("MLST", _O, _L, "MLST [path]: machine facts of one entry"),
        # transfer parameters
        _spec("TYPE", _R, _L, "TYPE A|I|L 8: transfer type"),
        _spec("MODE", _R, _L, "MODE S: transfer mode"),
        _spec("STRU", _R, _L, "STRU F: file structure"),
        _spec("ALLO", _O, _L, "ALLO <size>: accepted, not needed"),
        _spec("PORT", _R, _L, "PORT h1,h2,h3,h4,p1,p2: active data connection"),
        _spec("EPRT", _R, _L, "EPRT |proto|address|port|: active, IPv4 or IPv6"),
        _spec("PASV", _N, _L, "PASV: passive data connection"),
        _spec("EPSV", _O, _L, "EPSV [ALL|1|2]: extended passive"),
        _spec("REST", _R, _L, "REST <offset>: restart the next transfer there"),
        # transfers
        _spec("RETR", _R, _L, "RETR <path>: download"),
        _spec("STOR", _R, _L, "STOR <path>: upload"),
        _spec("STOU", _O, _L, "STOU [path]: upload under a unique name"),
        _spec("APPE", _R, _L, "APPE <path>: upload, appending"),
        _spec("ABOR", _N, _L, "ABOR: abort the transfer", during_transfer=True),
        # checksums
        _spec("HASH", _R, _L, "HASH <path>: the file's hash (OPTS HASH selects)"),
        _spec("XCRC", _R, _L, "XCRC <path> [start [end]]: CRC32"),
        _spec("XMD5", _R, _L, "XMD5 <path> [start [end]]: MD5"),
        _spec("XSHA1", _R, _L, "XSHA1 <path> [start [end]]: SHA-1"),
        _spec("XSHA256", _R, _L, "XSHA256 <path> [start [end]]: SHA-256"),
        _spec("XSHA512", _R, _L, "XSHA512 <path> [start [end]]: SHA-512"),
    )
}
