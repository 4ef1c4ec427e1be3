"""OpenSSH's C clients for SFTP and SCP throughput: `sftp -b` (batch), `scp -O` (the legacy SCP
protocol) and `scp` (modern scp, which speaks SFTP).

sftp times itself: the batch runs `!date` before and after the transfers, so the login and
session set-up are not counted. scp cannot, so its time is the wall time less the median wall
time of copying the empty file the same way (login, channel, scp or sftp start-up).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.curl_client import CurlTransfer
from bench.servers.base import Mode, RunningServer
from bench.ssh_keys import HOST_KEY_ALGORITHM, KEX, SshKeys

_MARK = "!date +%s.%N"
_BASELINE_RUNS = 3


class SshClientError(RuntimeError):
    pass


@dataclass(frozen=True)
class SshClient:
    """One server as OpenSSH's clients reach it, with the cipher under test."""

    server: RunningServer
    keys: SshKeys
    cipher: str

    def _options(self) -> list[str]:
        options = {
            "IdentitiesOnly": "yes", "BatchMode": "yes", "StrictHostKeyChecking": "no",
            "UserKnownHostsFile": "/dev/null", "LogLevel": "ERROR", "Ciphers": self.cipher,
            "KexAlgorithms": KEX, "HostKeyAlgorithms": HOST_KEY_ALGORITHM,
            "Compression": "no", "User": self.server.user,
        }
        argv = ["-F", "/dev/null", "-i", str(self.keys.client_key)]
        for key, value in options.items():
            argv += ["-o", f"{key}={value}"]
        return argv

    def _run(self, argv: list[str], timeout: float, *, stdin: str | None = None) -> tuple[
            str, float]:
        started = time.monotonic()
        try:
            result = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                    timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise SshClientError(f"{Path(argv[0]).name} timed out after {timeout:.0f} s") from exc
        seconds = time.monotonic() - started
        if result.returncode != 0:
            raise SshClientError(f"{Path(argv[0]).name} exited {result.returncode}: "
                                 f"{(result.stderr or result.stdout).strip()[-400:]}")
        return result.stdout, seconds

    # -- sftp -b ------------------------------------------------------------------------------
    def sftp_batch(self, commands: list[str], timeout: float) -> float:
        """Run the commands in one sftp session; the seconds between the marks around them."""
        batch = "\n".join([_MARK, *commands, _MARK]) + "\n"
        argv = [_binary("sftp"), *self._options(), "-P", str(self.server.port(Mode.SFTP)),
                "-b", "-", self.server.host]
        stdout, _ = self._run(argv, timeout, stdin=batch)
        marks = [float(line) for line in stdout.split() if _is_number(line)]
        if len(marks) != 2:
            raise SshClientError(f"sftp printed no time marks: {stdout[-300:]!r}")
        return marks[1] - marks[0]

    # -- scp ----------------------------------------------------------------------------------
    def _scp(self, mode: Mode, sources: list[str], target: str, timeout: float, *,
             recursive: bool = False) -> float:
        argv = [_binary("scp"), *self._options(), "-q", "-P", str(self.server.port(mode))]
        if mode is Mode.SCP:
            argv.append("-O")
        if recursive:
            argv.append("-r")
        _, seconds = self._run([*argv, *sources, target], timeout)
        return seconds

    def _less_baseline(self, total: float, baseline: float) -> float:
        if total <= baseline:
            raise SshClientError(f"scp took {total:.3f} s, no longer than copying the empty file "
                                 f"({baseline:.3f} s): too little data to time")
        return total - baseline

    def remote(self, path: str) -> str:
        return f"{self.server.host}:{path}"

    def scp_baseline(self, mode: Mode, empty_remote: str, local_dir: Path) -> float:
        """Median wall time of copying the empty file: what every scp pays before data."""
        times = [self._scp(mode, [self.remote(empty_remote)], str(local_dir), 60)
                 for _ in range(_BASELINE_RUNS)]
        return statistics.median(times)

    # -- one big file -------------------------------------------------------------------------
    def download(self, mode: Mode, remote: str, local: Path, size: int, timeout: float,
                 baseline: float) -> CurlTransfer:
        if mode is Mode.SFTP:
            seconds = self.sftp_batch([f"get {remote} {local}"], timeout)
            total = seconds
        else:
            total = self._scp(mode, [self.remote(remote)], str(local), timeout)
            seconds = self._less_baseline(total, baseline) if size else total
        moved = local.stat().st_size
        local.unlink()
        if moved != size:
            raise SshClientError(f"download left {moved} bytes, not {size}")
        return CurlTransfer(bytes=moved, transfer_seconds=seconds, total_seconds=total)

    def upload(self, mode: Mode, local: Path, remote: str, timeout: float,
               baseline: float) -> CurlTransfer:
        size = local.stat().st_size
        if mode is Mode.SFTP:
            seconds = self.sftp_batch([f"put {local} {remote}"], timeout)
            total = seconds
        else:
            total = self._scp(mode, [str(local)], self.remote(remote), timeout)
            seconds = self._less_baseline(total, baseline)
        return CurlTransfer(bytes=size, transfer_seconds=seconds, total_seconds=total)

    # -- many small files, one session --------------------------------------------------------
    def download_many(self, mode: Mode, folder: str, names: list[str], local_dir: Path,
                      timeout: float, baseline: float) -> float:
        """Seconds to fetch every file of `folder` (sftp: `get` per file; scp: -r)."""
        if mode is Mode.SFTP:
            return self.sftp_batch([f"lcd {local_dir}", f"cd {folder}",
                                    *(f"get {name}" for name in names)], timeout)
        total = self._scp(mode, [self.remote(folder)], str(local_dir), timeout, recursive=True)
        return self._less_baseline(total, baseline)

    def upload_many(self, mode: Mode, local_folder: Path, names: list[str], remote_dir: str,
                    timeout: float, baseline: float) -> float:
        """Seconds to store every file (sftp: `put` per file into remote_dir; scp: -r of the
        folder, landing as remote_dir/<folder name>/)."""
        if mode is Mode.SFTP:
            return self.sftp_batch([f"lcd {local_folder}", f"cd {remote_dir}",
                                    *(f"put {name}" for name in names)], timeout)
        total = self._scp(mode, [str(local_folder)], self.remote(remote_dir), timeout,
                          recursive=True)
        return self._less_baseline(total, baseline)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SshClientError(f"{name} is not installed (apt-get install openssh-client)")
    return found
