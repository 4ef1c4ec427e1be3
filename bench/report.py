"""The table (text and Markdown), ferryd's ratio to the best peer, and the JSON lines."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.physical_limits import Limit
from bench.results import METRICS, Better, Sample, Status
from bench.servers.base import Mode

FERRYD = "ferryd"
_MODE_ORDER = {mode.value: index for index, mode in enumerate(Mode)}
_METRIC_ORDER = {key: index for index, key in enumerate(METRICS)}


def machine_description() -> dict[str, str]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "kernel": platform.release(), "cpu": model,
            "python": platform.python_version()}


def ferryd_revision() -> str:
    """The git commit of the ferryd tree being measured, '+' when it has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + ("+" if dirty else "")


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _cell(sample: Sample | None) -> str:
    if sample is None:
        return "-"
    if sample.status is not Status.OK:
        return "ERROR" if sample.status is Status.ERROR else sample.status.value
    text = _figure(sample.median)
    if len(sample.values) > 1:
        text += f" ({_figure(sample.minimum)}-{_figure(sample.maximum)})"
    return text + ("*" if sample.note else "")


@dataclass(frozen=True)
class Ratio:
    text: str
    verdict: str  # "met", "MISSED" or "" when there is no goal


def ferryd_ratio(row: dict[str, Sample], better: Better) -> Ratio:
    ours = row.get(FERRYD)
    peers = [sample for name, sample in row.items()
             if name != FERRYD and sample.status is Status.OK and sample.median is not None]
    if better is Better.INFO or ours is None or ours.status is not Status.OK or not peers:
        return Ratio("", "")
    assert ours.median is not None
    pick = max if better is Better.HIGHER else min
    best = pick(peers, key=lambda sample: sample.median or 0.0)
    assert best.median is not None
    if best.median == 0:
        if ours.median == 0:
            return Ratio(f"= {best.server}", "met")
        return Ratio(f"{_figure(ours.median)} vs 0 ({best.server})", "MISSED")
    ratio = ours.median / best.median
    met = ratio >= 1.0 if better is Better.HIGHER else ratio <= 1.0
    goal = ">=1" if better is Better.HIGHER else "<=1"
    shown = f"{ratio:.3f}" if abs(ratio - 1.0) < 0.01 else f"{ratio:.2f}"  # 0.998, not 1.00
    return Ratio(f"{shown}x {best.server} (goal {goal})", "met" if met else "MISSED")


def _rows(samples: list[Sample]) -> list[tuple[str, str, dict[str, Sample]]]:
    grouped: dict[tuple[str, str, int], dict[str, Sample]] = {}
    for sample in samples:
        grouped.setdefault(sample.row_key, {})[sample.server] = sample
    keys = sorted(grouped, key=lambda key: (_METRIC_ORDER[key[0]], _MODE_ORDER.get(key[1], 99),
                                            key[2]))
    rows = []
    for metric_key, mode, count in keys:
        metric = METRICS[metric_key]
        label = f"{metric.title.format(n=count)} [{mode}]"
        rows.append((label, metric.unit, grouped[(metric_key, mode, count)]))
    return rows


def render_table(samples: list[Sample], servers: list[str], *, markdown: bool) -> str:
    header = ["measurement", "unit", *servers, "ferryd vs best peer", ""]
    lines: list[list[str]] = []
    for label, unit, row in _rows(samples):
        better = METRICS[next(iter(row.values())).metric].better
        ratio = ferryd_ratio(row, better)
        lines.append([label, unit, *(_cell(row.get(name)) for name in servers), ratio.text,
                      ratio.verdict])
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(line) + " |" for line in lines]
        return "\n".join(out)
    widths = [max(len(str(item)) for item in column) for column in zip(header, *lines,
                                                                         strict=True)]
    return "\n".join(
        "  ".join(str(item).ljust(width) for item, width in zip(line, widths, strict=True))
        .rstrip() for line in [header, *lines]
    )


def render_notes(samples: list[Sample]) -> str:
    """The footnotes of cells marked '*'."""
    return "\n".join(
        f"  * {sample.server}, {sample.metric} [{sample.mode}]: {sample.note}"
        for sample in samples if sample.status is Status.OK and sample.note
    )


def render_limits(limits: list[Limit]) -> str:
    return "\n".join(
        f"  {limit.name}: "
        + (f"{limit.value:.0f} {limit.unit}" if limit.value is not None else "-")
        + (f" ({limit.note})" if limit.note else "")
        for limit in limits
    )


def render_errors(samples: list[Sample], start_errors: dict[str, str]) -> str:
    lines = [f"  {name}: could not start: " + "\n      ".join(error.strip().splitlines()[:6])
             for name, error in start_errors.items()]
    lines += [f"  {sample.server} {sample.metric} [{sample.mode}]: {sample.note}"
              for sample in samples if sample.status is Status.ERROR]
    return "\n".join(lines)


class JsonLines:
    """bench/results/<timestamp>.jsonl: a header line, then one line per sample or limit."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, sort_keys=True) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
