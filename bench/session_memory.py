"""Where an idle FTP session's memory goes: a tracemalloc diff of N logged-in sessions.

    python -m bench.session_memory            # 500 sessions
    python -m bench.session_memory --sessions 2000 --top 30

ferryd runs in this process and the clients (minimal asyncio streams) in a child process, so
the figures are the server's alone; the lines are what each session adds, by allocation site,
ferryd's own first. A profile for docs/performance.md, not a benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import socket
import subprocess
import sys
import tempfile
import tracemalloc
from contextlib import suppress
from pathlib import Path

from ferryd import app
from ferryd.config import load_config

USER, PASSWORD = "memory", "memory-password"


async def _idle_session(port: int, logged_in: list[int], hold: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    for line in (f"USER {USER}\r\n", f"PASS {PASSWORD}\r\n"):
        writer.write(line.encode())
        await writer.drain()
        reply = await reader.readline()
    if not reply.startswith(b"230"):
        raise RuntimeError(f"login failed: {reply!r}")
    logged_in.append(1)
    await hold.wait()
    writer.close()


async def _wait_for(logged_in: list[int], count: int) -> None:
    while len(logged_in) < count:
        await asyncio.sleep(0.05)


async def _hold_sessions(port: int, sessions: int) -> None:
    """The child process: log `sessions` in (32 at a time, as bench/ does), say "ready" on
    stdout, hold them until stdin closes."""
    hold, logged_in = asyncio.Event(), list[int]()
    clients = []
    for number in range(sessions):
        clients.append(asyncio.create_task(_idle_session(port, logged_in, hold)))
        if number % 32 == 31:
            await _wait_for(logged_in, number + 1)
    await _wait_for(logged_in, sessions)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    hold.set()
    await asyncio.gather(*clients)


async def _clients(port: int, sessions: int) -> asyncio.subprocess.Process:
    """Start the child process that holds `sessions` and wait until it says they are in."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.session_memory", "--hold", str(port), str(sessions),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert child.stdout is not None
    if await child.stdout.readline() != b"ready\n":
        raise RuntimeError("the client process did not log its sessions in")
    return child


async def _release(child: asyncio.subprocess.Process) -> None:
    assert child.stdin is not None
    child.stdin.close()
    await child.wait()


async def profile(folder: Path, sessions: int, top: int) -> None:
    data = folder / "data"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = folder / "ferryd.conf"
    config.write_text(
        f"listen_address=127.0.0.1\nlisten_port={port}\nanonymous_enable=NO\n"
        "write_enable=YES\nmax_per_ip=0\nmax_clients=0\nmax_pending_logins=0\n"
        f"data_dir={data}\nuser_db={data}/users.sqlite3\n"
    )
    subprocess.run(
        [sys.executable, "-m", "ferryd.cli", "user", "add", USER, "--home",
         str(data / "home" / USER), "--password-stdin", "--config", str(config)],
        input=PASSWORD + "\n", text=True, check=True, capture_output=True,
        env={**os.environ, "FERRYD_HOME": str(data)},
    )
    server = asyncio.create_task(app.serve(load_config(str(config), (), data_dir=str(data)),
                                           embedded=False))
    for _ in range(100):  # until it listens (bounded)
        with suppress(OSError):
            socket.create_connection(("127.0.0.1", port), 1).close()
            break
        await asyncio.sleep(0.1)
    warm = await _clients(port, 5)
    gc.collect()
    tracemalloc.start(1)
    before = tracemalloc.take_snapshot()
    clients = await _clients(port, sessions)
    gc.collect()
    stats = tracemalloc.take_snapshot().compare_to(before, "lineno")
    total = sum(stat.size_diff for stat in stats)
    print(f"{sessions} idle FTP sessions: {total / sessions / 1024:.2f} KiB each in the server; "
          "by allocation site (bytes per session):")
    ours = [stat for stat in stats if f"{os.sep}ferryd{os.sep}" in str(stat.traceback[0])]
    others = [stat for stat in stats if stat not in ours]
    for stat in ours[:top] + others[:top]:
        print(f"{stat.size_diff / sessions:8.0f}  {stat.traceback[0]}")
    await _release(clients)
    await _release(warm)
    os.kill(os.getpid(), signal.SIGTERM)  # serve() stops as on SIGTERM
    await server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.session_memory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--top", type=int, default=15, help="sites listed, ferryd's and others")
    parser.add_argument("--hold", nargs=2, type=int, metavar=("PORT", "SESSIONS"),
                        help=argparse.SUPPRESS)  # the child process that holds the clients
    args = parser.parse_args(argv)
    if args.hold:
        asyncio.run(_hold_sessions(*args.hold))
        return 0
    with tempfile.TemporaryDirectory(prefix="ferryd-memory-") as folder:
        asyncio.run(profile(Path(folder), args.sessions, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
