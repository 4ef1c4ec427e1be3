"""CPU time and memory of a server's process tree, read from /proc."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")
_SETTLE_POLL = 0.05


@dataclass(frozen=True)
class _Stat:
    pid: int
    ppid: int
    state: str
    cpu_ticks: int  # utime + stime + cutime + cstime (reaped children included)


def _read_stat(pid: int) -> _Stat | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode(errors="replace")
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = text[text.rfind(")") + 2:].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return _Stat(pid=pid, ppid=int(fields[1]), state=fields[0],
                 cpu_ticks=utime + stime + cutime + cstime)


def _all_stats() -> dict[int, _Stat]:
    stats: dict[int, _Stat] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _read_stat(int(entry))
            if stat is not None:
                stats[stat.pid] = stat
    return stats


def tree_pids(roots: Iterable[int], stats: dict[int, _Stat] | None = None) -> list[int]:
    """The roots and all their descendants that exist now."""
    stats = _all_stats() if stats is None else stats
    children: dict[int, list[int]] = {}
    for stat in stats.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    found: list[int] = []
    pending = [pid for pid in roots if pid in stats]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def cpu_seconds(roots: Iterable[int]) -> float:
    """User+system CPU of the tree, counting the children its processes already reaped."""
    stats = _all_stats()
    return sum(stats[pid].cpu_ticks for pid in tree_pids(roots, stats)) / _TICKS


def settle(roots: list[int], *, expected: int | None = None, timeout: float = 10.0) -> int:
    """Wait (bounded) until the tree has no zombies and, if given, `expected` processes, so that
    exited session processes are reaped and their CPU counted once, in their parent."""
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        stats = _all_stats()
        pids = tree_pids(roots, stats)
        count = len(pids)
        zombies = any(stats[pid].state == "Z" for pid in pids)
        if not zombies and (expected is None or count <= expected):
            return count
        time.sleep(_SETTLE_POLL)
    return count


def _status_kib(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class TreeMemory:
    processes: int
    rss_kib: int  # summed RSS (counts shared pages once per process)
    pss_kib: int  # summed PSS (shared pages divided among their sharers)


def tree_memory(roots: Iterable[int]) -> TreeMemory:
    pids = tree_pids(roots)
    return TreeMemory(
        processes=len(pids),
        rss_kib=sum(_status_kib(pid, "VmRSS:") for pid in pids),
        pss_kib=sum(_pss_kib(pid) for pid in pids),
    )
