"""The physical limits beside the servers' figures: loopback TCP of one stream (iperf3) and one
core's AES-128-GCM and ChaCha20-Poly1305 speed (openssl speed -evp, 16 KiB blocks: one TLS
record)."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.servers.base import LOOPBACK, PROCESSES, free_port

CIPHERS = ("aes-128-gcm", "aes-256-gcm", "chacha20-poly1305")
_BLOCK = 16384
_OPENSSL_TIMEOUT = 60


@dataclass(frozen=True)
class Limit:
    name: str
    value: float | None
    unit: str
    note: str = ""

    def to_json(self) -> dict[str, object]:
        return {"kind": "limit", "name": self.name, "value": self.value, "unit": self.unit,
                "note": self.note}


def loopback_tcp(iperf3: Path | None, env: dict[str, str], seconds: int) -> Limit:
    name = "loopback TCP, one stream (iperf3)"
    if iperf3 is None:
        return Limit(name, None, "MiB/s", "skipped: iperf3 could not be installed")
    port = free_port()
    log_path = Path(f"/tmp/ferryd-bench-iperf3-{port}.log")
    server = PROCESSES.spawn([str(iperf3), "--server", "--one-off", "--bind", LOOPBACK,
                              "--port", str(port)], log_path=log_path, env=env)
    try:
        time.sleep(0.3)
        result = subprocess.run(
            [str(iperf3), "--client", LOOPBACK, "--port", str(port), "--time", str(seconds),
             "--json"], capture_output=True, text=True, env=env, timeout=seconds + 30)
        if result.returncode != 0:
            return Limit(name, None, "MiB/s", f"iperf3 failed: {result.stdout[-300:]}")
        report = json.loads(result.stdout)
        bits = float(report["end"]["sum_received"]["bits_per_second"])
        return Limit(name, bits / 8 / (1 << 20), "MiB/s")
    except (subprocess.TimeoutExpired, ValueError, KeyError) as exc:
        return Limit(name, None, "MiB/s", f"iperf3 failed: {exc}")
    finally:
        PROCESSES.stop(server)
        log_path.unlink(missing_ok=True)


def cipher_speed(cipher: str) -> Limit:
    name = f"{cipher}, one core (openssl speed -evp, 16 KiB)"
    try:
        result = subprocess.run(
            ["openssl", "speed", "-seconds", "1", "-bytes", str(_BLOCK), "-evp", cipher],
            capture_output=True, text=True, timeout=_OPENSSL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Limit(name, None, "MiB/s", f"openssl speed failed: {exc}")
    for line in result.stdout.splitlines():
        fields = line.split()
        if fields and fields[0].lower() == cipher.lower() and fields[-1].endswith("k"):
            kilobytes = float(fields[-1][:-1])  # openssl's "k" is 1000 bytes per second
            return Limit(name, kilobytes * 1000 / (1 << 20), "MiB/s")
    return Limit(name, None, "MiB/s", f"no figure in: {result.stdout[-200:]}")


def measure_limits(iperf3: Path | None, env: dict[str, str], *, quick: bool) -> list[Limit]:
    limits = [loopback_tcp(iperf3, env, 1 if quick else 3)]
    limits += [cipher_speed(cipher) for cipher in CIPHERS]
    return limits
