"""`ls -l` lines as FileZilla, WinSCP, curl and lftp parse them. Pure."""

from __future__ import annotations

import stat as stat_module
import time
from dataclasses import dataclass

from ferryd.storage.protocol import FileStat

_SIX_MONTHS = 182 * 24 * 3600


@dataclass(frozen=True)
class ListingStyle:
    use_localtime: bool = False
    hide_ids: bool = False  # owner and group shown as "ftp"
    text_userdb_names: bool = False  # names instead of numeric ids


def long_line(entry: FileStat, style: ListingStyle, now: float) -> str:
    """One `ls -l` line: `-rw-r--r--    1 1000     1000         1234 Nov 27 18:32 name`."""
    mode = stat_module.filemode(entry.mode)
    if style.hide_ids:
        owner, group = "ftp", "ftp"
    elif style.text_userdb_names:
        owner, group = entry.owner, entry.group
    else:
        owner, group = str(entry.uid), str(entry.gid)
    moment = time.localtime(entry.mtime) if style.use_localtime else time.gmtime(entry.mtime)
    # vsftpd (and GNU ls): a future date or one more than six months old shows the year
    if entry.mtime > now or now - entry.mtime > _SIX_MONTHS:
        when = time.strftime("%b %d  %Y", moment)
    else:
        when = time.strftime("%b %d %H:%M", moment)
    name = entry.name
    if entry.link_target is not None:
        name = f"{name} -> {entry.link_target}"
    return f"{mode} {entry.nlink:4d} {owner:<8} {group:<8} {entry.size:8d} {when} {name}"


def sorted_entries(entries: list[FileStat]) -> list[FileStat]:
    return sorted(entries, key=lambda entry: entry.name)
