"""One command: ferryd and the reference servers, one after another on loopback, the same files
and clients; a table on stdout, JSON lines in bench/results/<timestamp>.jsonl.

    python -m bench.run            # the full run (< 15 min on the 2-core machine)
    python -m bench.run --quick    # smoke test (< 2 min); non-zero exit if anything fails
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sys
import time
from pathlib import Path
from types import FrameType

if __package__ in (None, ""):  # `python bench/run.py`: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.environment import BenchEnvironment, dispose_environment, prepare_environment
from bench.installing import (
    InstallError,
    ensure_debian_tree,
    ensure_iperf3,
    ensure_openssh_client,
    ensure_py_spy,
    ensure_python_servers,
)
from bench.measurements import ServerBench, say
from bench.options import BenchOptions, parse_options
from bench.physical_limits import Limit, measure_limits
from bench.profiling import ProfileSummary, profile_ferryd
from bench.report import (
    JsonLines,
    ferryd_revision,
    machine_description,
    render_errors,
    render_limits,
    render_notes,
    render_table,
)
from bench.results import Sample, Status
from bench.servers import all_server_kinds
from bench.servers.base import PROCESSES, Mode, ServerKind, ServerStartError
from bench.system_user import SystemUserError

EXIT_FAILED = 1
EXIT_SETUP = 2
EXIT_INTERRUPTED = 130


# descriptors beyond one per session: listeners, logs, data connections, Python's own
_SPARE_DESCRIPTORS = 1024


def _raise_open_file_limit(sessions: int) -> None:
    """Bursts and idle sessions need a descriptor per session here (the clients) and in the
    server (started from here, so it inherits the limit): the soft limit goes up to the hard
    one, and the hard one too (root) when it is below what `sessions` need."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(hard, sessions + _SPARE_DESCRIPTORS)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
    except (ValueError, OSError):
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        say(f"open-file limit {hard}: too low for {sessions} sessions, and it may not be raised "
            "here (root, CAP_SYS_RESOURCE); sessions past it fail")


def _install_signal_handlers() -> None:
    """SIGINT/SIGTERM: the first unwinds (every server stopped, files and user removed); a
    second one stops the servers at once and exits."""
    received = 0

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        del signum, frame
        received += 1
        if received > 1:
            PROCESSES.stop_all()
            os._exit(EXIT_INTERRUPTED)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def bench_one_server(
    kind: ServerKind, env: BenchEnvironment, options: BenchOptions, out: JsonLines,
    profiles: list[ProfileSummary], stem: str,
) -> list[Sample]:
    """Start the server, run every measurement, stop it (also on errors)."""
    samples: list[Sample] = []
    started = time.monotonic()
    with kind.start(env) as server:
        say(f"{kind.name}: started (ports {[port for port in set(server.ports.values())]})")
        bench = ServerBench(server, kind, env, options)
        tls = bench.tls_versions(options.transfer_modes)
        out.write({"kind": "server", "server": kind.name, "description": kind.description,
                   "tls_negotiated": tls})
        for mode in (Mode.FTP, Mode.SFTP):
            if server.supports(mode):
                samples += bench.login_latency(mode)
        if options.idle_sessions > 0:
            for mode in options.idle_modes:
                samples += bench.idle_memory(mode, options.idle_sessions)
        for mode in options.transfer_modes:
            samples += bench.big_files(mode)
        if options.small_runs > 0 and options.small_files > 0:
            for mode in options.small_modes:
                samples += bench.small_files(mode)
        for size in [size for size in options.burst_sizes if size > 0]:
            for mode in options.burst_modes:
                samples += bench.burst(mode, size)
        if options.profile and kind.name == "ferryd":
            py_spy = ensure_py_spy()
            profile_modes: list[Mode] = [mode for mode in (Mode.FTP, Mode.FTPS_EXPLICIT,
                                                           Mode.SFTP)
                                         if mode in options.transfer_modes]
            profiles += profile_ferryd(
                py_spy, server.root_pids[0],
                lambda mode: bench.transfers(mode, options.transfer_timeout),
                bench.small_files, env, options.results_dir, stem, profile_modes,
                native=options.profile_native)
    say(f"{kind.name}: done in {time.monotonic() - started:.0f} s")
    return samples


def _print_report(
    options: BenchOptions, samples: list[Sample], limits: list[Limit],
    profiles: list[ProfileSummary], start_errors: dict[str, str], env: BenchEnvironment | None,
    out: JsonLines, seconds: float,
) -> str:
    servers = [name for name in options.servers]
    machine = machine_description()
    heading = (f"ferryd benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {machine['nproc']} cores "
               f"{machine['cpu']}, Linux {machine['kernel']}, Python {machine['python']}, "
               f"ferryd {ferryd_revision()}; "
               f"{'quick run' if options.quick else 'run'} in {seconds / 60:.1f} min")
    lines = [heading]
    if env is not None:
        lines.append(f"big file {options.size / (1 << 20):.0f} MiB, {options.runs} run(s) each "
                     f"(median (min-max)); logins: {env.hashes.describe()}; SSH: "
                     f"{options.ssh_cipher}, curve25519-sha256, ed25519 host and client keys")
    if limits:
        lines += ["physical limits:", render_limits(limits)]
    lines += ["", render_table(samples, servers, markdown=False)]
    notes = render_notes(samples)
    if notes:
        lines += [notes]
    errors = render_errors(samples, start_errors)
    if errors:
        lines += ["", "FAILURES:", errors]
    for profile in profiles:
        lines += ["", profile.render()]
    text = "\n".join(lines)
    markdown = out.path.with_suffix(".md")
    markdown.write_text(heading + "\n\n" + render_table(samples, servers, markdown=True) + "\n\n"
                        + notes + "\n")
    return text


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    _raise_open_file_limit(max([options.idle_sessions, *options.burst_sizes]))
    _install_signal_handlers()
    stem = time.strftime("%Y%m%d-%H%M%S")
    out = JsonLines(options.results_dir / f"{stem}.jsonl")
    kinds = [kind for kind in all_server_kinds() if kind.name in options.servers]
    samples: list[Sample] = []
    limits: list[Limit] = []
    profiles: list[ProfileSummary] = []
    start_errors: dict[str, str] = {}
    env: BenchEnvironment | None = None
    started = time.monotonic()
    status = 0
    try:
        debian = ensure_debian_tree()
        ensure_openssh_client()
        if "pyftpdlib" in options.servers:
            ensure_python_servers()
        env = prepare_environment(
            work_root=options.work_root, debian=debian, file_size=options.size,
            small_files=options.small_files, small_size=options.small_size,
            login_cost=options.login_cost)
        out.write({"kind": "run", "stem": stem, "argv": sys.argv, "quick": options.quick,
                   "machine": machine_description(), "ferryd": ferryd_revision(),
                   "size": options.size,
                   "runs": options.runs, "login_hashes": env.hashes.describe(),
                   "ssh_cipher": options.ssh_cipher,
                   "work_dir": str(env.work_dir)})
        if options.physical_limits:
            limits = measure_limits(ensure_iperf3(debian), debian.env(), quick=options.quick)
            for limit in limits:
                out.write(limit.to_json())
        for kind in kinds:
            try:
                samples += bench_one_server(kind, env, options, out, profiles, stem)
            except ServerStartError as exc:
                start_errors[kind.name] = str(exc)
                say(f"ERROR: {exc}")
    except (InstallError, SystemUserError) as exc:
        say(f"ERROR: setting up failed: {exc}")
        status = EXIT_SETUP
    except KeyboardInterrupt:
        say("interrupted: stopping every server")
        status = EXIT_INTERRUPTED
    finally:
        PROCESSES.stop_all()
        if env is not None:
            with contextlib.suppress(OSError, SystemUserError):
                dispose_environment(env, keep_user=options.keep_user)
    for sample in samples:
        out.write(sample.to_json())
    for profile in profiles:
        out.write(profile.to_json())
    print(_print_report(options, samples, limits, profiles, start_errors, env, out,
                        time.monotonic() - started))
    out.close()
    print(f"\nJSON lines: {out.path}")
    if status:
        return status
    failed = start_errors or any(sample.status is Status.ERROR for sample in samples)
    if failed:
        print("FAILED: see FAILURES above", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
