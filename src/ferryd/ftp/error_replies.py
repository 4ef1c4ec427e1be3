"""The one table mapping protocol-neutral errors to FTP replies."""

from __future__ import annotations

from ferryd.ftp.data_channel import DataChannelError
from ferryd.ftp.proto.replies import Reply
from ferryd.session.errors import InvalidPath, PermissionDenied
from ferryd.storage.errors import (
    AccessDenied,
    FileBusy,
    NoSpace,
    OutsideRoot,
    StorageError,
)

# vsftpd's failure texts, per command, for errors that are not about permission or space.
FAILURE_TEXT: dict[str, tuple[int, str]] = {
    "CWD": (550, "Failed to change directory."),
    "CDUP": (550, "Failed to change directory."),
    "MKD": (550, "Create directory operation failed."),
    "RMD": (550, "Remove directory operation failed."),
    "DELE": (550, "Delete operation failed."),
    "RNFR": (550, "RNFR command failed."),
    "RNTO": (550, "Rename failed."),
    "SIZE": (550, "Could not get file size."),
    "MDTM": (550, "Could not get file modification time."),
    "MFMT": (550, "Could not set file modification time."),
    "RETR": (550, "Failed to open file."),
    "STOR": (553, "Could not create file."),
    "APPE": (553, "Could not create file."),
    "STOU": (553, "Could not create file."),
    "LIST": (550, "Failed to open directory."),
    "NLST": (550, "Failed to open directory."),
    "MLSD": (550, "Failed to open directory."),
    "MLST": (550, "Could not get file status."),
    "STAT": (550, "Could not get file status."),
    "SITE": (550, "SITE command failed."),
    "HASH": (550, "Could not compute the hash."),
}

# Order matters: the first matching class decides.
_BY_ERROR: tuple[tuple[type[BaseException], Reply], ...] = (
    (PermissionDenied, Reply(550, "Permission denied.")),
    (OutsideRoot, Reply(550, "Permission denied.")),
    (AccessDenied, Reply(550, "Permission denied.")),
    (NoSpace, Reply(452, "Insufficient storage space: the disk or quota is full.")),
    (FileBusy, Reply(450, "File busy: another transfer holds it; try again later.")),
    (InvalidPath, Reply(553, "File name not allowed.")),
    (DataChannelError, Reply(425, "Failed to establish connection.")),
)


def reply_for_error(command_name: str, error: BaseException) -> Reply:
    if isinstance(error, DataChannelError):
        return Reply(425, str(error) or "Failed to establish connection.")
    for kind, reply in _BY_ERROR:
        if isinstance(error, kind):
            return reply
    if isinstance(error, StorageError):
        code, text = FAILURE_TEXT.get(command_name, (550, "Requested action not taken."))
        return Reply(code, text)
    raise error
