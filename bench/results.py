"""What a measurement produces: samples per (metric, mode, server), and the metrics' meaning."""

from __future__ import annotations

import enum
import statistics
from dataclasses import dataclass, field
from typing import Any


class Better(enum.Enum):
    HIGHER = "higher"
    LOWER = "lower"
    INFO = "info"  # shown, no ratio goal


@dataclass(frozen=True)
class Metric:
    key: str
    title: str  # may hold {n} for a count, e.g. the burst size
    unit: str
    better: Better


METRICS = {
    metric.key: metric
    for metric in (
        Metric("login", "one login (FTP: to 230; SFTP: to an open session)", "ms",
               Better.INFO),
        Metric("retr", "RETR of the big file", "MiB/s", Better.HIGHER),
        Metric("stor", "STOR of the big file", "MiB/s", Better.HIGHER),
        Metric("retr_cpu", "server CPU per GiB, RETR", "s/GiB", Better.LOWER),
        Metric("stor_cpu", "server CPU per GiB, STOR", "s/GiB", Better.LOWER),
        Metric("small_get", "{n} small files GET, one session", "files/s", Better.HIGHER),
        Metric("small_put", "{n} small files PUT, one session", "files/s", Better.HIGHER),
        Metric("burst", "burst of {n} sessions", "sessions/s", Better.HIGHER),
        Metric("burst_failures", "failed sessions in the burst of {n}", "count", Better.LOWER),
        Metric("idle_memory", "memory per idle session at {n}", "KiB", Better.LOWER),
    )
}


class Status(enum.Enum):
    OK = "ok"
    UNSUPPORTED = "n/a"
    NOT_YET = "not yet"
    ERROR = "error"


@dataclass
class Sample:
    """All runs of one measurement of one server."""

    metric: str
    mode: str
    server: str
    count: int = 0  # the {n} of the metric title (burst size, files, sessions), 0 if none
    values: list[float] = field(default_factory=list)
    status: Status = Status.OK
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def row_key(self) -> tuple[str, str, int]:
        return (self.metric, self.mode, self.count)

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def minimum(self) -> float | None:
        return min(self.values) if self.values else None

    @property
    def maximum(self) -> float | None:
        return max(self.values) if self.values else None

    def to_json(self) -> dict[str, Any]:
        metric = METRICS[self.metric]
        return {
            "kind": "sample", "metric": self.metric, "mode": self.mode, "server": self.server,
            "count": self.count, "unit": metric.unit, "better": metric.better.value,
            "status": self.status.value, "values": self.values, "median": self.median,
            "min": self.minimum, "max": self.maximum, "note": self.note, "extra": self.extra,
        }
