"""py-spy on the ferryd process during the big file down and up and the small-file test, per
protocol (FTP, FTPS, SFTP): where the time goes."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.environment import BIG_FILE, BenchEnvironment
from bench.servers.base import Mode

Transfers = tuple[Callable[[str], object], Callable[[], object]]

_LINE_NUMBER = re.compile(r":\d+\)$")
_PY_SPY_RATE = 100
_STOP_TIMEOUT = 30


@dataclass(frozen=True)
class ProfileSummary:
    label: str
    samples: int
    top_self: list[tuple[str, float]]  # frame, percent of samples
    top_inclusive: list[tuple[str, float]]
    raw_path: Path

    def render(self) -> str:
        lines = [f"{self.label}: {self.samples} samples ({self.raw_path.name})", "  self:"]
        lines += [f"    {percent:5.1f}%  {frame}" for frame, percent in self.top_self]
        lines.append("  inclusive:")
        lines += [f"    {percent:5.1f}%  {frame}" for frame, percent in self.top_inclusive]
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {"kind": "profile", "label": self.label, "samples": self.samples,
                "top_self": self.top_self, "top_inclusive": self.top_inclusive,
                "raw": str(self.raw_path)}


def _frame_name(frame: str) -> str:
    return _LINE_NUMBER.sub(")", frame.strip())


def summarize(raw_path: Path, label: str, top: int = 12) -> ProfileSummary:
    """py-spy's raw format: one collapsed stack per line, 'f1;f2;...;fN count'."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw_path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    scale = 100.0 / max(total, 1)
    return ProfileSummary(
        label=label, samples=total,
        top_self=[(frame, round(count * scale, 1)) for frame, count in own.most_common(top)],
        top_inclusive=[(frame, round(count * scale, 1))
                       for frame, count in inclusive.most_common(top)],
        raw_path=raw_path,
    )


def _record_during(
    py_spy: Path, pid: int, raw_path: Path, action: Callable[[], object], *, native: bool
) -> bool:
    argv = [str(py_spy), "record", "--pid", str(pid), "--rate", str(_PY_SPY_RATE), "--format",
            "raw", "--output", str(raw_path)]
    # --native (C frames: OpenSSL, the kernel calls) needs py-spy to pause the process for each
    # sample; without it, sample without pausing.
    argv.append("--native" if native else "--nonblocking")
    recorder = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
    try:
        time.sleep(1.0)  # let py-spy attach
        if recorder.poll() is not None:
            return False
        action()
    finally:
        if recorder.poll() is None:
            recorder.send_signal(signal.SIGINT)
        try:
            recorder.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait(timeout=_STOP_TIMEOUT)
        if recorder.stderr is not None:
            recorder.stderr.close()
    return raw_path.exists() and raw_path.stat().st_size > 0


def profile_ferryd(
    py_spy: Path, pid: int, transfers: Callable[[Mode], Transfers],
    small_files: Callable[[Mode], object], env: BenchEnvironment, out_dir: Path, stem: str,
    modes: list[Mode], *, native: bool = False,
) -> list[ProfileSummary]:
    """Python-level profiles by default (py-spy --nonblocking: idle threads left out, C calls
    counted in the Python frame that made them); native=True adds C frames (OpenSSL, libc) but
    pauses ferryd for each sample and counts idle worker threads too. Per mode: the big file
    down and up (`transfers`, the mode's C client) and the small-file test (both ways)."""
    summaries: list[ProfileSummary] = []
    for mode in modes:
        download, upload = transfers(mode)
        actions: dict[str, Callable[[], object]] = {
            "retr": lambda download=download: download(BIG_FILE),  # type: ignore[misc]
            "stor": upload,
            "small": lambda mode=mode: small_files(mode),  # type: ignore[misc]
        }
        for direction, action in actions.items():
            raw_path = out_dir / f"{stem}-profile-{mode.value}-{direction}.txt"
            recorded = _record_during(py_spy, pid, raw_path, action, native=native)
            env.clear_uploads()
            if recorded:
                summaries.append(summarize(raw_path, f"ferryd {direction.upper()} {mode.value}"))
    return summaries
