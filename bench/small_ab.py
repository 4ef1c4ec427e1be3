"""A/B of ferryd trees on the small-file test: round after round, each tree started in turn
from its own source folder, so a loaded machine's swings hit every tree alike. Prints files/s
and ferryd's CPU per file (GET and PUT together: a steadier figure than files/s when other
work shares the cores), median and each round's value.

    python -m bench.small_ab before=/tmp/before/src after=/work/tree/src --rounds 3
    python -m bench.small_ab plain=/work/tree/src uvloop=/tmp/uvloop:/work/tree/src

Each tree is a PYTHONPATH for `python -m ferryd.cli serve` (so a folder holding a
sitecustomize.py can change how it starts). Needs what `python -m bench.run` needs (root).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from collections import defaultdict
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.environment import BenchEnvironment, dispose_environment, prepare_environment
from bench.installing import ensure_debian_tree, ensure_openssh_client
from bench.measurements import ServerBench
from bench.options import parse_options
from bench.process_tree import cpu_seconds
from bench.servers.base import PROCESSES, Mode
from bench.servers.ferryd_server import FerrydServer

Figures = dict[tuple[str, str, str], list[float]]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.small_ab", description=__doc__)
    parser.add_argument("trees", nargs="+", metavar="LABEL=PYTHONPATH")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default="ftp,ftps-explicit,sftp,scp")
    parser.add_argument("--small-files", default="1000")
    parser.add_argument("--small-seconds", default="20")
    return parser.parse_args(argv)


def _fresh_server_folder(env: BenchEnvironment) -> None:
    """A new start in the same environment: no users, keys or log lines of the last one."""
    shutil.rmtree(env.server_dir(FerrydServer.name), ignore_errors=True)


def _one_round(env: BenchEnvironment, label: str, modes: list[Mode], figures: Figures,
               argv: list[str]) -> None:
    options = parse_options(argv)
    kind = FerrydServer()
    _fresh_server_folder(env)
    with kind.start(env) as server:
        bench = ServerBench(server, kind, env, options)
        for mode in modes:
            before = cpu_seconds(server.root_pids)
            fetched, stored = bench.small_files(mode)
            files = fetched.count + stored.count
            figures[(label, mode.value, "GET files/s")].append(fetched.median)
            figures[(label, mode.value, "PUT files/s")].append(stored.median)
            figures[(label, mode.value, "CPU ms/file")].append(
                (cpu_seconds(server.root_pids) - before) * 1000 / max(files, 1))


def _report(labels: list[str], modes: list[Mode], figures: Figures) -> str:
    lines = []
    for mode in modes:
        for figure in ("GET files/s", "PUT files/s", "CPU ms/file"):
            cells = []
            for label in labels:
                values = figures[(label, mode.value, figure)]
                rounds = " ".join(f"{value:.3g}" for value in values)
                cells.append(f"{label} {statistics.median(values):.3g} ({rounds})")
            lines.append(f"{mode.value:14} {figure:12} " + "   ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    trees = dict(tree.split("=", 1) for tree in args.trees)
    modes = [Mode(name) for name in args.modes.split(",") if name]
    bench_argv = ["--servers", "ferryd", "--small-files", args.small_files,
                  "--small-seconds", args.small_seconds]
    figures: Figures = defaultdict(list)
    ensure_openssh_client()
    options = parse_options(bench_argv)
    env = prepare_environment(
        work_root=options.work_root, debian=ensure_debian_tree(), file_size=4096,
        small_files=options.small_files, small_size=options.small_size)
    try:
        for _round in range(args.rounds):
            for label, path in trees.items():
                os.environ["PYTHONPATH"] = path
                _one_round(env, label, modes, figures, bench_argv)
    finally:
        PROCESSES.stop_all()
        dispose_environment(env, keep_user=False)
    print(_report(list(trees), modes, figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
