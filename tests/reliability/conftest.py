"""Fixtures of the reliability suite: `record` (what a test tried, for docs/reliability.md),
the functional suite's certificate, and ferryd with FTP, FTPS (explicit and implicit) and SFTP."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.functional.conftest import certificate  # noqa: F401  (a fixture, used by name)
from tests.reliability.recording import (
    LOG_VARIABLE,
    RecordLog,
    Trial,
    reproduce_command,
)

_OUTCOME = pytest.StashKey[str]()
_LOG = pytest.StashKey[RecordLog]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reliability-log", default=None,
        help=f"append what each reliability test tried to this JSON lines file "
             f"(default: ${LOG_VARIABLE}; unset: nowhere)",
    )


def _log_path(config: pytest.Config) -> Path | None:
    value = config.getoption("--reliability-log") or os.environ.get(LOG_VARIABLE)
    return Path(value) if value else None


def pytest_configure(config: pytest.Config) -> None:
    log = RecordLog(_log_path(config))
    config.stash[_LOG] = log
    arguments = " ".join(shlex.quote(argument) for argument in sys.argv[1:])
    if _log_path(config) is not None:
        log.start_run(f"python3 -m pytest {arguments}".strip())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if call.when == "call":
        item.stash[_OUTCOME] = report.outcome  # type: ignore[attr-defined]
    return report


Record = Callable[..., None]


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Iterator[Record]:
    """record(area=..., fault=..., protocols=..., sessions=, faults=, inputs=, bytes_lost=,
    detail=): kept until the test ends, then written with the test's outcome."""
    trials: list[Trial] = []

    def add(**fields: object) -> None:
        trials.append(Trial(**fields))  # type: ignore[arg-type]

    yield add
    outcome = request.node.stash.get(_OUTCOME, "failed")
    log = request.config.stash[_LOG]
    for trial in trials:
        log.add(Trial(**{**trial.__dict__, "reproduce": reproduce_command(request.node.nodeid),
                         "result": outcome}))
