"""curl (a C client) for throughput: RETR to /dev/null, STOR from a file. Timings come from
curl's own -w variables, so the login and set-up before the transfer are not counted."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.servers.base import Mode, RunningServer

_TLS_LINE = re.compile(r"SSL connection using (\S+) / (\S+)")


class CurlError(RuntimeError):
    pass


@dataclass(frozen=True)
class CurlTransfer:
    bytes: int
    transfer_seconds: float  # time_total - time_pretransfer: the data phase and final reply
    total_seconds: float

    @property
    def mib_per_second(self) -> float:
        return self.bytes / (1 << 20) / max(self.transfer_seconds, 1e-9)


def curl_binary() -> str:
    found = shutil.which("curl")
    if found is None:
        raise CurlError("curl is not installed (apt-get install curl)")
    return found


def _url(server: RunningServer, mode: Mode, path: str) -> str:
    scheme = "ftps" if mode is Mode.FTPS_IMPLICIT else "ftp"
    return f"{scheme}://{server.host}:{server.port(mode)}/{path.lstrip('/')}"


def _base_argv(server: RunningServer, mode: Mode, certificate: Path, timeout: float) -> list[str]:
    argv = [curl_binary(), "--silent", "--show-error", "--user",
            f"{server.user}:{server.password}", "--max-time", f"{timeout:.0f}",
            "--write-out", "%{json}\\n"]
    if mode.uses_tls:
        # Verify against the bench certificate only (no system CA bundle to load each time).
        argv += ["--ssl-reqd", "--cacert", str(certificate)]
    return argv


def _run(argv: list[str], timeout: float, what: str) -> list[dict[str, object]]:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 10)
    except subprocess.TimeoutExpired as exc:
        raise CurlError(f"{what}: curl did not finish within {timeout:.0f} s") from exc
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not reports:
        raise CurlError(f"{what}: curl exit {result.returncode}: {result.stderr.strip()[-500:]}")
    failed = [report for report in reports if int(str(report.get("exitcode", 0))) != 0]
    if failed:
        raise CurlError(f"{what}: {len(failed)} transfers failed: {failed[0].get('errormsg')}")
    return reports


def _seconds(report: dict[str, object], key: str) -> float:
    return float(str(report.get(key, 0.0)))


def download(
    server: RunningServer, mode: Mode, path: str, certificate: Path, *, timeout: float
) -> CurlTransfer:
    argv = _base_argv(server, mode, certificate, timeout)
    argv += ["--output", "/dev/null", _url(server, mode, path)]
    (report,) = _run(argv, timeout, f"RETR {path} from {server.name} over {mode.value}")
    size = int(str(report["size_download"]))
    total = _seconds(report, "time_total")
    return CurlTransfer(size, total - _seconds(report, "time_pretransfer"), total)


def upload(
    server: RunningServer, mode: Mode, local: Path, remote: str, certificate: Path, *,
    timeout: float,
) -> CurlTransfer:
    argv = _base_argv(server, mode, certificate, timeout)
    argv += ["--upload-file", str(local), _url(server, mode, remote)]
    (report,) = _run(argv, timeout, f"STOR {remote} to {server.name} over {mode.value}")
    size = int(str(report["size_upload"]))
    total = _seconds(report, "time_total")
    return CurlTransfer(size, total - _seconds(report, "time_pretransfer"), total)


def negotiated_tls(server: RunningServer, mode: Mode, certificate: Path) -> str:
    """The TLS version and cipher curl negotiates with this server (from a listing)."""
    argv = [*_base_argv(server, mode, certificate, 60), "--verbose", "--output", "/dev/null",
            _url(server, mode, "/")]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=70)
    found = _TLS_LINE.findall(result.stderr)
    if result.returncode != 0 or not found:
        raise CurlError(f"TLS probe of {server.name}: {result.stderr.strip()[-300:]}")
    versions = sorted({f"{version} {cipher}" for version, cipher in found})
    return "; ".join(versions)
