"""The measurements, run against one started server; each returns Samples, never raises for a
server's misbehaviour (that becomes an error sample with the reason)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncssh

from bench import curl_client, ftp_files, ftp_sessions, ssh_sessions
from bench.curl_client import CurlError, CurlTransfer
from bench.environment import (
    BIG_FILE,
    EMPTY_FILE,
    SMALL_FOLDER,
    UPLOAD_FOLDER,
    BenchEnvironment,
)
from bench.ftp_sessions import FtpReplyError
from bench.options import BenchOptions
from bench.process_tree import cpu_seconds, settle, tree_memory
from bench.results import Sample, Status
from bench.servers.base import MemoryMetric, Mode, RunningServer, ServerKind
from bench.ssh_client import SshClient, SshClientError

GIB = 1 << 30
_IDLE_SETTLE_SECONDS = 2.0
_IDLE_LOGIN_CONCURRENCY = 32
_MEASUREMENT_ERRORS = (CurlError, SshClientError, FtpReplyError, OSError, TimeoutError,
                       ValueError, asyncssh.Error)


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass
class ServerBench:
    """Runs every measurement against one server, in an order that keeps them independent."""

    server: RunningServer
    kind: ServerKind
    env: BenchEnvironment
    options: BenchOptions

    def _sample(self, metric: str, mode: Mode, count: int = 0) -> Sample:
        return Sample(metric=metric, mode=mode.value, server=self.server.name, count=count)

    def _unsupported(self, metrics: list[str], mode: Mode, reason: str, count: int = 0) -> list[
            Sample]:
        return [Sample(metric=metric, mode=mode.value, server=self.server.name, count=count,
                       status=Status.UNSUPPORTED, note=reason) for metric in metrics]

    # -- one login --------------------------------------------------------------------------
    @property
    def ssh(self) -> SshClient:
        return SshClient(self.server, self.env.ssh, self.options.ssh_cipher)

    def login_latency(self, mode: Mode) -> list[Sample]:
        """FTP: connect to the 230 reply; SFTP: connect to an open SFTP session (key login)."""
        if not self.server.supports(mode):
            return self._unsupported(["login"], mode, self._reason(mode))
        sample = self._sample("login", mode)
        try:
            for _ in range(self.options.runs):
                if mode.is_ssh:
                    seconds = asyncio.run(ssh_sessions.login_seconds(
                        self.server, self.env.ssh, self.options.ssh_cipher, timeout=60))
                else:
                    seconds = asyncio.run(ftp_sessions.login_seconds(
                        self.server, mode, self.env.certificate, timeout=60))
                sample.values.append(seconds * 1000)
        except _MEASUREMENT_ERRORS as exc:
            return [_failed(sample, exc)]
        say(f"{self.server.name}: login over {mode.value} {sample.median:.0f} ms")
        return [sample]

    def tls_versions(self, modes: list[Mode]) -> dict[str, str]:
        found: dict[str, str] = {}
        for mode in modes:
            if mode.uses_tls and self.server.supports(mode):
                try:
                    found[mode.value] = curl_client.negotiated_tls(
                        self.server, mode, self.env.certificate)
                except CurlError as exc:
                    found[mode.value] = f"error: {exc}"
        return found

    # -- big files --------------------------------------------------------------------------
    def _measured(self, transfer: Callable[[], CurlTransfer]) -> tuple[CurlTransfer, float]:
        """Run one curl transfer; the server tree's CPU seconds it cost (after reaping)."""
        roots = self.server.root_pids
        idle_processes = settle(roots)
        before = cpu_seconds(roots)
        result = transfer()
        settle(roots, expected=idle_processes)
        return result, cpu_seconds(roots) - before

    def _setup_cpu(self, mode: Mode, download: Callable[[str], CurlTransfer]) -> float:
        """CPU of a zero-byte RETR (or SFTP/SCP get): login, TLS or SSH handshakes, data
        connection or channel. Subtracted from every transfer's CPU so that CPU per GiB counts
        the data path only."""
        _, cpu = self._measured(lambda: download(EMPTY_FILE))
        return cpu

    def transfers(self, mode: Mode, timeout: float) -> tuple[
            Callable[[str], CurlTransfer], Callable[[], CurlTransfer]]:
        """(download of a named file, upload of the big file) with the mode's C client."""
        env = self.env
        if not mode.is_ssh:
            return (
                lambda name: curl_client.download(self.server, mode, name, env.certificate,
                                                  timeout=timeout),
                lambda: curl_client.upload(self.server, mode, env.big_file,
                                           f"{UPLOAD_FOLDER}/{BIG_FILE}", env.certificate,
                                           timeout=timeout),
            )
        client = self.ssh
        baseline = 0.0 if mode is Mode.SFTP else client.scp_baseline(mode, EMPTY_FILE,
                                                                     env.client_dir)
        sizes = {BIG_FILE: env.file_size, EMPTY_FILE: 0}
        return (
            lambda name: client.download(mode, name, env.client_dir / name, sizes[name],
                                         timeout, baseline),
            lambda: client.upload(mode, env.big_file, f"{UPLOAD_FOLDER}/{BIG_FILE}", timeout,
                                  baseline),
        )

    def big_files(self, mode: Mode) -> list[Sample]:
        names = ["retr", "stor", "retr_cpu", "stor_cpu"]
        if not self.server.supports(mode):
            return self._unsupported(names, mode, self._reason(mode))
        retr, stor, retr_cpu, stor_cpu = (self._sample(name, mode) for name in names)
        timeout = self.options.transfer_timeout
        env = self.env
        try:
            download, upload = self.transfers(mode, timeout)
            setup_cpu = self._setup_cpu(mode, download)
            for run in range(1, self.options.runs + 1):
                down, cpu = self._measured(lambda: download(BIG_FILE))
                _check_size(down, env.file_size, "RETR")
                retr.values.append(down.mib_per_second)
                retr_cpu.values.append(max(cpu - setup_cpu, 0.0) * GIB / down.bytes)
                up, cpu = self._measured(upload)
                _check_size(up, env.file_size, "STOR")
                stored = (env.upload_folder / BIG_FILE).stat().st_size
                if stored != env.file_size:
                    raise ValueError(f"STOR left {stored} bytes, not {env.file_size}")
                stor.values.append(up.mib_per_second)
                stor_cpu.values.append(max(cpu - setup_cpu, 0.0) * GIB / up.bytes)
                env.clear_uploads()
                say(f"{self.server.name}: {mode.value} run {run}/{self.options.runs}: RETR "
                    f"{down.mib_per_second:.0f} MiB/s, STOR {up.mib_per_second:.0f} MiB/s")
        except _MEASUREMENT_ERRORS as exc:
            return [_failed(sample, exc) for sample in (retr, stor, retr_cpu, stor_cpu)]
        finally:
            env.clear_uploads()
        for sample in (retr_cpu, stor_cpu):
            sample.extra["setup_cpu_seconds"] = round(setup_cpu, 3)
        return [retr, stor, retr_cpu, stor_cpu]

    # -- many small files -------------------------------------------------------------------
    def small_files(self, mode: Mode) -> list[Sample]:
        count = self.env.small_files
        if not self.server.supports(mode):
            return self._unsupported(["small_get", "small_put"], mode, self._reason(mode), count)
        get, put = self._sample("small_get", mode, count), self._sample("small_put", mode, count)
        timeout = max(120.0, count * 0.5)
        budget = self.options.small_seconds
        env = self.env
        names = env.small_names()
        payload = (env.small_folder / names[0]).read_bytes()
        try:
            for _ in range(self.options.small_runs):
                if mode.is_ssh:
                    fetched, stored = self._ssh_many_files(mode, names, timeout)
                else:
                    fetched = ftp_files.download_many(
                        self.server, mode, SMALL_FOLDER, names, env.certificate,
                        timeout=timeout, budget=budget)
                    stored = ftp_files.upload_many(
                        self.server, mode, UPLOAD_FOLDER, names, payload, env.certificate,
                        timeout=timeout, budget=budget)
                if fetched.bytes != fetched.files * env.small_size:
                    raise ValueError(f"small GET moved {fetched.bytes} bytes")
                get.values.append(fetched.files_per_second)
                landed = sum(1 for entry in env.upload_folder.rglob("*")
                             if entry.is_file() and entry.stat().st_size == env.small_size)
                if landed != stored.files:
                    raise ValueError(f"small PUT left {landed} complete files, not "
                                     f"{stored.files}")
                put.values.append(stored.files_per_second)
                for sample, result in ((get, fetched), (put, stored)):
                    if result.files < count:
                        sample.note = (f"stopped after {result.files} files at the "
                                       f"{budget:.0f} s budget")
                env.clear_uploads()
        except _MEASUREMENT_ERRORS as exc:
            return [_failed(get, exc), _failed(put, exc)]
        finally:
            env.clear_uploads()
        say(f"{self.server.name}: {count} small files over {mode.value}: GET "
            f"{get.median:.0f}/s, PUT {put.median:.0f}/s")
        return [get, put]

    def _ssh_many_files(self, mode: Mode, names: list[str], timeout: float) -> tuple[
            ftp_files.ManyFiles, ftp_files.ManyFiles]:
        """sftp -b: a get (then a put) per file in one session; scp: -r of the folder. The
        downloads land in the client folder, emptied afterwards."""
        env, client = self.env, self.ssh
        baseline = 0.0 if mode is Mode.SFTP else client.scp_baseline(mode, EMPTY_FILE,
                                                                     env.client_dir)
        env.clear_client()
        seconds = client.download_many(mode, SMALL_FOLDER, names, env.client_dir, timeout,
                                       baseline)
        landed = [entry for entry in env.client_dir.rglob("*") if entry.is_file()]
        fetched = ftp_files.ManyFiles(len(landed), sum(entry.stat().st_size for entry in landed),
                                      seconds)
        env.clear_client()
        seconds = client.upload_many(mode, env.small_folder, names, UPLOAD_FOLDER, timeout,
                                     baseline)
        return fetched, ftp_files.ManyFiles(len(names), len(names) * env.small_size, seconds)

    # -- a burst of sessions ----------------------------------------------------------------
    def burst(self, mode: Mode, sessions: int) -> list[Sample]:
        if not self.server.supports(mode):
            return self._unsupported(["burst", "burst_failures"], mode, self._reason(mode),
                                     sessions)
        rate = self._sample("burst", mode, sessions)
        failures = self._sample("burst_failures", mode, sessions)
        timeout = self.options.session_timeout(sessions)
        try:
            if mode.is_ssh:
                result = asyncio.run(ssh_sessions.burst(
                    self.server, self.env.ssh, self.options.ssh_cipher, sessions,
                    session_timeout=timeout))
            else:
                result = asyncio.run(ftp_sessions.burst(
                    self.server, mode, sessions, self.env.certificate, session_timeout=timeout))
        except _MEASUREMENT_ERRORS as exc:
            return [_failed(rate, exc), _failed(failures, exc)]
        rate.values.append(result.sessions_per_second)
        rate.extra = {"seconds": round(result.seconds, 2), "succeeded": result.succeeded}
        failures.values.append(float(sum(result.failures.values())))
        failures.extra = {"kinds": dict(result.failures)}
        settle(self.server.root_pids, timeout=30)
        say(f"{self.server.name}: burst of {sessions} over {mode.value}: "
            f"{result.sessions_per_second:.1f} sessions/s, {sum(result.failures.values())} "
            f"failed {dict(result.failures) or ''}")
        return [rate, failures]

    # -- memory per idle session ------------------------------------------------------------
    def idle_memory(self, mode: Mode, sessions: int) -> list[Sample]:
        if not self.server.supports(mode):
            return self._unsupported(["idle_memory"], mode, self._reason(mode), sessions)
        sample = self._sample("idle_memory", mode, sessions)
        try:
            sample = asyncio.run(self._idle_memory(mode, sessions, sample))
        except _MEASUREMENT_ERRORS as exc:
            return [_failed(sample, exc)]
        return [sample]

    async def _idle_memory(self, mode: Mode, sessions: int, sample: Sample) -> Sample:
        roots = self.server.root_pids
        # One session first, so lazily loaded code and caches are in the baseline.
        login_timeout = self.options.session_timeout(sessions)
        holder: ftp_sessions.IdleSessions | ssh_sessions.IdleSshSessions
        if mode.is_ssh:
            cipher = self.options.ssh_cipher
            await ssh_sessions.login_seconds(self.server, self.env.ssh, cipher, timeout=60)
            holder = ssh_sessions.IdleSshSessions(
                self.server, self.env.ssh, cipher, sessions,
                concurrency=_IDLE_LOGIN_CONCURRENCY, login_timeout=login_timeout)
        else:
            await ftp_sessions.login_seconds(self.server, mode, self.env.certificate,
                                             timeout=60)
            holder = ftp_sessions.IdleSessions(
                self.server, mode, sessions, self.env.certificate,
                concurrency=_IDLE_LOGIN_CONCURRENCY, login_timeout=login_timeout)
        settle(roots)
        await asyncio.sleep(_IDLE_SETTLE_SECONDS)
        before = tree_memory(roots)
        started = time.monotonic()
        async with holder:
            await asyncio.sleep(_IDLE_SETTLE_SECONDS)
            after = tree_memory(roots)
            held = len(holder.controls)
        if held == 0:
            raise ValueError(f"no session logged in: {dict(holder.failures)}")
        use_pss = self.server.memory_metric is MemoryMetric.PSS
        delta_kib = (after.pss_kib - before.pss_kib) if use_pss else (
            after.rss_kib - before.rss_kib)
        sample.values.append(delta_kib / held)
        sample.extra = {
            "metric": self.server.memory_metric.value, "held": held,
            "failures": dict(holder.failures), "login_seconds": round(
                time.monotonic() - started, 1),
            "before": vars(before), "after": vars(after),
        }
        settle(roots, timeout=30)
        say(f"{self.server.name}: {held} idle sessions over {mode.value}: "
            f"{delta_kib / held:.0f} KiB each ({self.server.memory_metric.value}), "
            f"{sum(holder.failures.values())} failed")
        return sample

    def _reason(self, mode: Mode) -> str:
        return self.kind.unsupported.get(mode, "n/a")


def _check_size(transfer: CurlTransfer, expected: int, what: str) -> None:
    if transfer.bytes != expected:
        raise ValueError(f"{what} moved {transfer.bytes} bytes, not {expected}")


def _failed(sample: Sample, exc: BaseException) -> Sample:
    sample.status = Status.ERROR
    sample.note = f"{type(exc).__name__}: {exc}"[:500]
    sample.values = []
    say(f"ERROR {sample.server} {sample.metric} {sample.mode}: {sample.note}")
    return sample

