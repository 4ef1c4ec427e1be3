"""What each reliability test did, as JSON lines: the raw material of docs/reliability.md.

A test calls the `record` fixture once per fault, load or attack it tried; the fixture adds
the command that reproduces it and the test's outcome, and appends one JSON object per line
to the file named by FERRYD_RELIABILITY_LOG (or pytest's --reliability-log). With neither,
records are checked and dropped, so the default suite writes nothing into the tree.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

FORMAT_VERSION = 1
LOG_VARIABLE = "FERRYD_RELIABILITY_LOG"
LONG_VARIABLE = "FERRYD_LONG_TESTS"


def long_tests() -> bool:
    """FERRYD_LONG_TESTS=1: the soak runs 10 minutes with 500 sessions, not 1 minute and 100."""
    return os.environ.get(LONG_VARIABLE, "") not in ("", "0")


@dataclass(frozen=True)
class Trial:
    """One fault, load or attack and what the server did with it."""

    area: str  # "client vanishes", "server killed", "storage", "slow clients", ...
    fault: str  # what was done, in a few words
    protocols: str  # "ftp, ftps, sftp"
    sessions: int = 0  # client sessions served (held) during the trial
    faults: int = 0  # faults injected that the server survived
    inputs: int = 0  # hostile inputs sent
    bytes_lost: int = 0  # acknowledged bytes missing or wrong afterwards: must be 0
    detail: str = ""  # figures worth reading: RSS before and after, codes seen, ...
    reproduce: str = ""  # filled in by the fixture: the pytest command for this test
    result: str = ""  # filled in by the fixture: "passed" or "failed"

    def __post_init__(self) -> None:
        for name in ("sessions", "faults", "inputs", "bytes_lost"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


@dataclass(frozen=True)
class RunHeader:
    """Once per pytest run: when, how and where the records were made."""

    kind: str = "run"
    format: int = FORMAT_VERSION
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC",
                                                               time.gmtime()))
    command: str = ""
    long_tests: bool = field(default_factory=long_tests)
    python: str = field(default_factory=platform.python_version)
    machine: str = field(default_factory=lambda: f"{platform.system()} {platform.machine()}, "
                                                 f"{os.cpu_count()} CPUs")


def reproduce_command(nodeid: str) -> str:
    prefix = f"{LONG_VARIABLE}=1 " if long_tests() else ""
    return f"{prefix}PYTHONPATH=$PWD/src python3 -m pytest -q {shlex.quote(nodeid)}"


class RecordLog:
    """Appends run headers and trials to one JSON lines file (or nowhere)."""

    def __init__(self, path: Path | None) -> None:
        self._path = path

    def _append(self, record: dict[str, object]) -> None:
        if self._path is None:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    def start_run(self, command: str) -> None:
        self._append(asdict(RunHeader(command=command)))

    def add(self, trial: Trial) -> None:
        self._append({"kind": "trial", **asdict(trial)})


def read_records(text: str) -> tuple[list[RunHeader], list[Trial]]:
    """Parse a JSON lines log back; unknown kinds or fields are an error (a stale format)."""
    runs: list[RunHeader] = []
    trials: list[Trial] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        kind = record.pop("kind", None)
        try:
            if kind == "run":
                runs.append(RunHeader(kind="run", **record))
            elif kind == "trial":
                trials.append(Trial(**record))
            else:
                raise ValueError(f"unknown record kind {kind!r}")
        except TypeError as exc:
            raise ValueError(f"line {number}: not a record of format {FORMAT_VERSION}: {exc}") \
                from exc
    return runs, trials
