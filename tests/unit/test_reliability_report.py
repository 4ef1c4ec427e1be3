"""docs/reliability.md is a rendering of recorded data, in the current format: not edited by
hand, not stale, every area of issue 7 present, and no byte lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability.recording import RecordLog, Trial, read_records, reproduce_command
from tests.reliability.report import embedded_records, render

REPORT = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
AREAS = {"client vanishes", "abort", "server killed", "storage", "slow clients",
         "hostile input", "load"}


def test_the_committed_report_is_the_rendering_of_its_records() -> None:
    page = REPORT.read_text(encoding="utf-8")
    records = embedded_records(page)
    assert render(records) == page, "docs/reliability.md was edited by hand or is stale: " \
        "regenerate it with python3 -m tests.reliability.report LOG.jsonl"


def test_the_committed_report_covers_every_area_and_lost_nothing() -> None:
    runs, trials = read_records(embedded_records(REPORT.read_text(encoding="utf-8")))
    assert runs
    assert {trial.area for trial in trials} >= AREAS
    assert [t.fault for t in trials if t.bytes_lost] == []
    assert [t.fault for t in trials if t.result != "passed"] == []
    assert all(t.reproduce.startswith(("PYTHONPATH=", "FERRYD_LONG_TESTS=1 ")) for t in trials)


def test_records_round_trip_and_a_stale_format_is_refused(tmp_path: Path) -> None:
    log = RecordLog(tmp_path / "log.jsonl")
    log.start_run("python3 -m pytest tests/reliability")
    log.add(Trial(area="load", fault="f | with a pipe", protocols="ftp", sessions=3,
                  reproduce=reproduce_command("tests/x.py::test_y[a b]"), result="passed"))
    text = (tmp_path / "log.jsonl").read_text()
    runs, trials = read_records(text)
    assert len(runs) == 1 and trials[0].sessions == 3
    assert "'tests/x.py::test_y[a b]'" in trials[0].reproduce
    page = render(text)
    assert "f \\| with a pipe" in page and embedded_records(page) == text.strip("\n")
    record = json.loads(text.splitlines()[1])
    record["renamed_field"] = record.pop("sessions")
    with pytest.raises(ValueError, match="format"):
        read_records(json.dumps(record))
    with pytest.raises(ValueError):
        Trial(area="a", fault="f", protocols="p", bytes_lost=-1)
