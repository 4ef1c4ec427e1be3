"""Command-line options of the harness, and the defaults of a full and a --quick run."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bench.environment import default_work_root
from bench.passwords import ARGON2_COSTS, Argon2Cost
from bench.servers.base import Mode
from bench.ssh_keys import DEFAULT_CIPHER

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMG]i?B?|B)?$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
_T = TypeVar("_T")
_TRANSFER_MODES = (Mode.FTP, Mode.FTPS_EXPLICIT, Mode.FTPS_IMPLICIT, Mode.SFTP, Mode.SCP)
SERVER_NAMES = ("ferryd", "vsftpd", "proftpd", "pure-ftpd", "pyftpdlib", "openssh", "asyncssh")


@dataclass
class BenchOptions:
    size: int
    runs: int
    small_files: int
    small_size: int
    small_runs: int
    small_seconds: float
    burst_sizes: list[int]
    burst_modes: list[Mode]
    idle_sessions: int
    idle_modes: list[Mode]
    transfer_modes: list[Mode]
    small_modes: list[Mode]
    servers: list[str]
    work_root: Path
    quick: bool
    profile: bool
    profile_native: bool
    keep_user: bool
    physical_limits: bool
    results_dir: Path
    ssh_cipher: str
    login_cost: Argon2Cost

    @property
    def transfer_timeout(self) -> float:
        """Generous: the slowest server at 10 MiB/s, never under two minutes."""
        return max(120.0, self.size / (10 << 20))

    def session_timeout(self, sessions: int) -> float:
        """Logins cost ~0.15-0.4 s of CPU each on every server: allow a whole burst in series
        on one core. A connection the server never accepts fails after this."""
        return 90.0 + 0.3 * sessions


def parse_size(text: str) -> int:
    match = _SIZE.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1GiB, 64MiB, 4096)")
    unit = (match.group(2) or "").upper()[:1]
    return int(float(match.group(1)) * _UNITS[unit])


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from exc


def _mode_list(text: str) -> list[Mode]:
    try:
        return [Mode(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        names = ", ".join(mode.value for mode in Mode)
        raise argparse.ArgumentTypeError(f"modes are {names}; got {text!r}") from exc


def _server_list(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in SERVER_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown servers {unknown}; known: {SERVER_NAMES}")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="ferryd and reference FTP/FTPS servers, one after another on loopback, "
                    "with the same files and clients. Prints a table; writes JSON lines to "
                    "bench/results/<timestamp>.jsonl.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="smoke test (< 2 min): small files, one run, small bursts")
    parser.add_argument("--size", type=parse_size, help="big file size (default 1GiB; quick 16MiB)")
    parser.add_argument("--runs", type=int, help="runs per throughput measurement (default 3)")
    parser.add_argument("--small-files", type=int,
                        help="files in the small-file test (default 1000; quick 30)")
    parser.add_argument("--small-runs", type=int, default=1,
                        help="runs of the small-file test (default 1: 1000 files are already "
                             "an aggregate; 0 skips it)")
    parser.add_argument("--small-seconds", type=float, default=30.0,
                        help="time budget per direction of the small-file test; a slower "
                             "server is measured on the files done by then (default 30)")
    parser.add_argument("--small-size", type=parse_size, default=4096,
                        help="size of each small file (default 4KiB)")
    parser.add_argument("--burst", type=_int_list,
                        help="burst sizes, comma-separated (default 200; e.g. 200,2000; '' skips)")
    parser.add_argument("--burst-modes", type=_mode_list, default=[Mode.FTP, Mode.SFTP],
                        help="protocols for bursts (default ftp,sftp; add ftps-explicit, ~1 min "
                             "more per server: every FTP login costs ~0.2 s of CPU)")
    parser.add_argument("--idle-sessions", type=int,
                        help="idle logged-in sessions for the memory figure (default 500; 0 skips)")
    parser.add_argument("--idle-modes", type=_mode_list, default=[Mode.FTP, Mode.SFTP],
                        help="protocols for the memory figure (default ftp,sftp)")
    parser.add_argument("--transfer-modes", type=_mode_list,
                        help="protocols for the big file (default ftp,ftps-explicit,"
                             "ftps-implicit,sftp,scp, without scp in a --quick run; scp is "
                             "`scp -O`; add scp-sftp for modern scp, which is the SFTP "
                             "protocol again)")
    parser.add_argument("--small-modes", type=_mode_list,
                        default=[Mode.FTP, Mode.FTPS_EXPLICIT, Mode.SFTP, Mode.SCP],
                        help="protocols for the small-file test (default ftp,ftps-explicit,"
                             "sftp,scp)")
    parser.add_argument("--login-cost", choices=sorted(ARGON2_COSTS), default="owasp",
                        help="argon2id cost of every login (SHA-512-crypt matched to it): "
                             "owasp (m=19MiB t=2 p=1, the default: logins are most of a run's "
                             "time) or default (ferryd's own m=64MiB t=3 p=4)")
    parser.add_argument("--ssh-cipher", default=DEFAULT_CIPHER,
                        help="the one cipher every SSH client asks for (default "
                             f"{DEFAULT_CIPHER}; e.g. chacha20-poly1305@openssh.com)")
    parser.add_argument("--servers", type=_server_list, default=list(SERVER_NAMES),
                        help="servers to run (default all: " + ",".join(SERVER_NAMES) + ")")
    parser.add_argument("--work-root", type=Path, default=default_work_root(),
                        help="where the served files live (default /dev/shm: tmpfs)")
    parser.add_argument("--results-dir", type=Path,
                        default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--profile", action="store_true",
                        help="also py-spy ferryd during the big file and the small files over ftp, "
                             "ftps-explicit and sftp")
    parser.add_argument("--profile-native", action="store_true",
                        help="with --profile: C frames too (py-spy --native; pauses ferryd)")
    parser.add_argument("--no-limits", action="store_true",
                        help="skip the physical limits (iperf3, openssl speed)")
    parser.add_argument("--keep-user", action="store_true",
                        help="keep the ferrybench system user after the run")
    return parser


def _default(value: _T | None, full: _T, quick_value: _T, *, quick: bool) -> _T:
    if value is not None:
        return value
    return quick_value if quick else full


def parse_options(argv: list[str] | None = None) -> BenchOptions:
    args = build_parser().parse_args(argv)
    quick = bool(args.quick)
    runs = _default(args.runs, 3, 1, quick=quick)
    if runs < 1:
        raise SystemExit("--runs must be at least 1")
    return BenchOptions(
        size=_default(args.size, 1 << 30, 16 << 20, quick=quick),
        runs=runs,
        small_files=_default(args.small_files, 1000, 30, quick=quick),
        small_size=args.small_size,
        small_runs=args.small_runs,
        small_seconds=args.small_seconds,
        burst_sizes=_default(args.burst, [200], [10], quick=quick),
        burst_modes=args.burst_modes,
        idle_sessions=_default(args.idle_sessions, 500, 10, quick=quick),
        idle_modes=args.idle_modes,
        # 16 MiB over scp takes no longer than its login: nothing to time in a quick run
        transfer_modes=args.transfer_modes if args.transfer_modes is not None else [
            mode for mode in _TRANSFER_MODES
            if not (quick and args.size is None and mode is Mode.SCP)],
        # 30 files over scp -r take no longer than its login: nothing to time in a quick run
        small_modes=[mode for mode in args.small_modes
                     if not (quick and args.small_files is None and mode is Mode.SCP)],
        servers=args.servers,
        work_root=args.work_root,
        quick=quick,
        profile=bool(args.profile or args.profile_native),
        profile_native=bool(args.profile_native),
        keep_user=bool(args.keep_user),
        physical_limits=not args.no_limits,
        results_dir=args.results_dir,
        ssh_cipher=args.ssh_cipher,
        login_cost=ARGON2_COSTS[args.login_cost],
    )
