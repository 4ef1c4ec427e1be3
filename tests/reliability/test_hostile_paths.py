"""Path tricks over FTP and SFTP (`..`, `//`, `\\`, `%2e%2e`, Unicode look-alikes, very long
names, NUL and control bytes, invalid UTF-8) and a symlink race: nothing outside the user's
folder is ever read, written, listed, changed or removed."""

from __future__ import annotations

import ctypes
import ftplib
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest

from tests.functional.ferryd_process import RunningFerryd
from tests.functional.raw_ftp import RawFtp, Reply, receive_all
from tests.reliability.clients import ftp_login, run_bounded, ssh_connection
from tests.reliability.conftest import Record
from tests.reliability.servers import PASSWORD, USER, all_protocols_server

SECRET = b"OUTSIDE SECRET: must never reach a client"
TRICKS: list[bytes] = [
    b"..", b"../..", b"../../../../../../etc/passwd", b"/../../secret.txt", b"//secret.txt",
    b"///..//..//secret.txt", b"..\\..\\secret.txt", b"\\..\\secret.txt",
    b"%2e%2e/%2e%2e/secret.txt", b"%2e%2e%2fsecret.txt", b"..%2f..%2fsecret.txt",
    b"..%c0%af..%c0%afsecret.txt", "\u2024\u2024/secret.txt".encode(),  # one-dot leaders
    "\uff0e\uff0e/secret.txt".encode(), "\u2025/secret.txt".encode(),  # fullwidth, two-dot
    b"..\xc0\xae/secret.txt", b"\xff\xfe/../secret.txt", b"./././../secret.txt",
    b"~root/../../secret.txt", b"~/../secret.txt", b"inbox/../../secret.txt",
    b"a" * 255, b"a" * 256, b"b/" * 2000, b"c" * 5000, b"x\x01\x02\x1b[31m.txt",
    b"tab\there.txt", b"cr\rin-name.txt", b"del\x7f.txt", b".ferryd-upload.0000000000000000",
    b"link-out/secret.txt", b"link-out", b"-rf", b"*", b"?", b"[a-z]*", b"{a,b}",
]
FTP_VERBS = ("RETR", "CWD", "SIZE", "MDTM", "DELE", "RMD", "MKD", "RNFR", "STAT", "MLST",
             "NLST", "LIST", "SITE CHMOD 777")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, certificate: Path) -> Iterator[
        RunningFerryd]:
    folder = tmp_path_factory.mktemp("paths")
    (folder / "secret.txt").write_bytes(SECRET)  # beside the data folder, outside every home
    with all_protocols_server(folder, certificate) as running:
        home = running.home(USER)
        (home / "inbox").mkdir()
        (home / "link-out").symlink_to(folder)
        yield running


def _outside_snapshot(server: RunningFerryd) -> dict[str, tuple[int, int, int]]:
    """Every file and folder outside the user's home, with size, mode and mtime."""
    root = server.config_path.parent
    home = server.home(USER)
    seen: dict[str, tuple[int, int, int]] = {}
    for folder, names, files in os.walk(root):
        if Path(folder) == home or home in Path(folder).parents:
            names[:] = []
            continue
        for name in (*names, *files):
            path = Path(folder) / name
            if path == home or name in ("vsftpd.log", "xferlog") or name.startswith("users."):
                continue
            st = path.lstat()
            seen[str(path)] = (st.st_size, st.st_mode, int(st.st_mtime_ns))
    return seen


def _ftp_tricks(server: RunningFerryd) -> tuple[int, list[int]]:
    """Every trick with every verb, plus STOR, a session per trick (over-long ones end their
    session, as they should); (inputs sent, codes of anything that leaked)."""
    sent, leaks = 0, []
    for trick in TRICKS:
        with RawFtp(server.host, server.ports["ftp"]) as raw:
            raw.login(USER, PASSWORD)
            raw.cmd("TYPE I")
            for verb in (*FTP_VERBS, "STOR"):
                sent += 1
                try:
                    reply, payload = _ftp_try(raw, verb, trick)
                except (EOFError, ConnectionError):
                    assert len(trick) > 4000, trick  # only over-long lines end the session
                    break
                assert 200 <= reply.code < 600, reply
                if SECRET in payload or b"root:x:0" in payload:
                    leaks.append(reply.code)
            else:
                assert raw.cmd("NOOP").code == 200
    return sent, leaks


def _ftp_try(raw: RawFtp, verb: str, trick: bytes) -> tuple[Reply, bytes]:
    line = verb.encode() + b" " + trick
    if verb in ("RETR", "NLST", "LIST", "STOR"):
        with raw.pasv() as data:
            reply = raw.cmd(line)
            payload = b""
            if reply.code == 150 and verb == "STOR":
                data.sendall(b"planted")
            elif reply.code == 150:
                payload = receive_all(data)
        return (raw.reply() if reply.code == 150 else reply), payload
    reply = raw.cmd(line)
    if verb == "RNFR" and reply.code == 350:
        raw.cmd(b"RNTO renamed-back")
    if verb == "CWD":
        raw.cmd("CWD /")
    return reply, reply.text.encode()


def test_path_tricks_never_leave_the_home(server: RunningFerryd, record: Record) -> None:
    before = _outside_snapshot(server)
    sent, leaks = _ftp_tricks(server)

    async def over_sftp() -> tuple[int, list[str]]:
        count, found = 0, []
        async with ssh_connection(server) as conn, conn.start_sftp_client() as sftp:
            for trick in TRICKS:
                for operation in ("read", "write", "listdir", "stat", "mkdir", "remove",
                                  "chmod", "realpath"):
                    count += 1
                    try:
                        if operation == "read":
                            async with sftp.open(trick, "rb") as handle:
                                data = await handle.read()
                            if SECRET in data:
                                found.append(operation)
                        elif operation == "write":
                            async with sftp.open(trick, "wb") as handle:
                                await handle.write(b"planted")
                        elif operation == "listdir":
                            names = await sftp.listdir(trick)
                            if "secret.txt" in names and trick not in (b"link-out",):
                                found.append(operation)
                        elif operation == "realpath":
                            await sftp.realpath(trick)
                        else:
                            await getattr(sftp, operation)(trick, *(
                                (0o777,) if operation == "chmod" else ()))
                    except (asyncssh.SFTPError, UnicodeDecodeError):
                        pass
        return count, found

    sftp_sent, sftp_leaks = run_bounded(over_sftp())  # type: ignore[misc]
    after = _outside_snapshot(server)
    changed = sorted(set(before.items()) ^ set(after.items()))
    record(area="hostile input", fault=f"path tricks ({len(TRICKS)} paths: .., //, \\, %2e%2e, "
           "look-alikes, long names, control bytes, invalid UTF-8, links) with every verb",
           protocols="ftp, sftp", sessions=2, inputs=sent + sftp_sent,
           detail=f"outside the home: {len(changed)} changes, {len(leaks) + len(sftp_leaks)} "
                  "reads; every input answered")
    assert leaks == [] and sftp_leaks == []
    assert changed == []
    assert server.process.poll() is None
    assert "Traceback" not in server.read_stderr()


def _exchange(first: Path, second: Path) -> None:
    """renameat2(RENAME_EXCHANGE): swap two names atomically (a folder and a symlink)."""
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, rename_exchange = -100, 2
    if libc.renameat2(at_fdcwd, bytes(first), at_fdcwd, bytes(second), rename_exchange):
        raise OSError(ctypes.get_errno(), "renameat2", str(first))


def _race_round(client: ftplib.FTP, number: int) -> tuple[bytes, set[str]]:
    """RETR, STOR, SITE CHMOD and NLST through the swapped folder: what RETR got, and the
    outcomes ("ok" or the refusal's code)."""
    chunks: list[bytes] = []
    outcomes = set()
    for command in (lambda: client.retrbinary("RETR sub/x.txt", chunks.append),
                    lambda: client.storbinary(f"STOR sub/up-{number}.txt",
                                              io.BytesIO(b"planted")),
                    lambda: client.sendcmd("SITE CHMOD 777 sub/x.txt"),
                    lambda: client.nlst("sub")):
        try:
            command()
            outcomes.add("ok")
        except ftplib.error_perm as exc:
            outcomes.add(str(exc)[:3])
    return b"".join(chunks), outcomes


def test_symlink_race_never_reaches_outside(
    tmp_path: Path, certificate: Path, record: Record
) -> None:
    """Someone on the machine swaps a folder in the home with a symlink to an outside folder
    as fast as they can while a client reads, writes, lists and chmods through it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.txt").write_bytes(SECRET)
    (outside / "x.txt").chmod(0o600)
    with all_protocols_server(tmp_path / "server", certificate) as running:
        home = running.home(USER)
        (home / "sub").mkdir()
        (home / "sub" / "x.txt").write_bytes(b"inside")
        (home / "alt").symlink_to(outside)
        stop, swaps = threading.Event(), [0]

        def swapper() -> None:
            while not stop.is_set() and swaps[0] < 10_000_000:
                _exchange(home / "sub", home / "alt")
                swaps[0] += 1

        thread = threading.Thread(target=swapper, daemon=True)
        thread.start()
        leaks, tries, outcomes = 0, 0, set[str]()
        client = ftp_login(running, "ftp")
        try:
            for number in range(300):
                tries += 4
                received, seen = _race_round(client, number)
                outcomes |= seen
                leaks += SECRET in received
        finally:
            stop.set()
            thread.join(30)
            client.close()
        planted = [p.name for p in outside.iterdir() if p.name != "x.txt"]
        mode = (outside / "x.txt").stat().st_mode & 0o777
        stderr = running.read_stderr()
    record(area="hostile input", fault="symlink race: a folder swapped with a link to outside "
           f"({swaps[0]} swaps) under RETR, STOR, SITE CHMOD, NLST", protocols="ftp",
           sessions=1, inputs=tries,
           detail=f"outside: {leaks} reads, {len(planted)} files planted, mode {mode:o} kept; "
                  f"replies {', '.join(sorted(outcomes))}")
    assert leaks == 0
    assert planted == []
    assert mode == 0o600
    assert "Traceback" not in stderr
