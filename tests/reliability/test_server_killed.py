"""ferryd killed with SIGKILL during 20 concurrent uploads (FTP, FTPS, SFTP), then restarted:
every upload that was acknowledged (226, SFTP close OK) is intact by hash, and no half file
sits under a final name. Uploads are held at half their bytes at the kill, so some are always
cut; others race the kill and land on either side of it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ferryd.storage.local import ATOMIC_UPLOAD_PREFIX
from ferryd.storage.stale_uploads import STALE_AFTER_SECONDS
from tests.functional.ferryd_process import RunningFerryd
from tests.reliability.clients import ftp_login, sftp_download, ssh_connection
from tests.reliability.conftest import Record
from tests.reliability.servers import USER, all_protocols_server

SIZE = 2 << 20
CHUNK = 64 << 10
PROTOCOLS = ("ftp", "ftps", "ftps-implicit", "sftp")
WORKERS = 20
WAIT = 60.0


@dataclass
class Upload:
    name: str
    protocol: str
    plan: str  # "complete": done before the kill; "hold": half sent at the kill; "race"
    payload: bytes = field(repr=False)
    acknowledged: bool = False
    error: str = ""


@dataclass
class KillSwitch:
    """The order of events: completes acknowledged and holds half-sent, then the kill."""

    half_sent: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    killed: threading.Event = field(default_factory=threading.Event)

    def hold(self, upload: Upload, sent: int) -> None:
        if upload.plan == "hold" and sent == SIZE // 2:
            self.half_sent.release()
            self.killed.wait(WAIT)


def _ftp_upload(server: RunningFerryd, upload: Upload, switch: KillSwitch) -> None:
    client = ftp_login(server, upload.protocol)
    try:
        with client.transfercmd(f"STOR {upload.name}") as data:
            for sent in range(0, SIZE, CHUNK):
                switch.hold(upload, sent)
                data.sendall(upload.payload[sent:sent + CHUNK])
            if isinstance(data, ssl.SSLSocket):
                data.unwrap()
        upload.acknowledged = client.voidresp().startswith("226")
    finally:
        client.close()


async def _sftp_upload(server: RunningFerryd, upload: Upload, switch: KillSwitch) -> None:
    async with ssh_connection(server) as conn, conn.start_sftp_client() as sftp:
        handle = await sftp.open(upload.name, "wb")
        for sent in range(0, SIZE, CHUNK):
            if upload.plan == "hold" and sent == SIZE // 2:
                await asyncio.to_thread(switch.hold, upload, sent)
            await handle.write(upload.payload[sent:sent + CHUNK], sent)
        await handle.close()  # the acknowledgement: close OK after fsync and rename
        upload.acknowledged = True


def _run(server: RunningFerryd, upload: Upload, switch: KillSwitch) -> None:
    try:
        if upload.protocol == "sftp":
            asyncio.run(asyncio.wait_for(_sftp_upload(server, upload, switch), WAIT))
        else:
            _ftp_upload(server, upload, switch)
    except Exception as exc:  # the kill breaks uploads in many ways; each is kept
        upload.error = f"{type(exc).__name__}: {exc}"[:120]


def _plan(index: int) -> str:
    """6 complete before the kill, 10 held at half, 4 racing it: each group every protocol."""
    return "complete" if index < 6 else "hold" if index < 16 else "race"


def test_sigkill_during_twenty_uploads_loses_nothing_acknowledged(
    tmp_path: Path, certificate: Path, record: Record
) -> None:
    uploads = [
        Upload(name=f"upload-{index:02}-{PROTOCOLS[index % 4]}.bin",
               protocol=PROTOCOLS[index % 4], plan=_plan(index),
               payload=os.urandom(SIZE))
        for index in range(WORKERS)
    ]
    switch = KillSwitch()
    folder = tmp_path / "server"
    with all_protocols_server(folder, certificate) as server:
        first = [u for u in uploads if u.plan == "complete"]
        threads = {u.name: threading.Thread(target=_run, args=(server, u, switch), daemon=True)
                   for u in uploads}
        for upload in first:
            threads[upload.name].start()
        for upload in first:
            threads[upload.name].join(WAIT)
        assert all(u.acknowledged for u in first), [u.error for u in first]
        for upload in uploads:
            if upload.plan != "complete":
                threads[upload.name].start()
        holds = [u for u in uploads if u.plan == "hold"]
        for _ in holds:
            assert switch.half_sent.acquire(timeout=WAIT)
        server.kill()
        switch.killed.set()
        for thread in threads.values():
            thread.join(WAIT)
        assert not any(thread.is_alive() for thread in threads.values())
    home = folder / "data" / "home" / USER
    acknowledged = [u for u in uploads if u.acknowledged]
    assert not any(u.acknowledged for u in holds)
    # the kill left hidden partials; a day later (their clocks turned back) a restart sweeps them
    partials = [path for path in home.iterdir() if path.name.startswith(ATOMIC_UPLOAD_PREFIX)]
    long_ago = time.time() - STALE_AFTER_SECONDS - 60
    for path in partials:
        os.utime(path, (long_ago, long_ago))
    with all_protocols_server(folder, certificate, restart=True) as again:
        if partials:
            assert again.wait_for_line(
                re.compile(f"removed {len(partials)} stale hidden partial"), WAIT)
        lost = 0
        half_files = []
        for upload in uploads:
            on_disk = home / upload.name
            if upload.acknowledged:
                if not on_disk.exists() or on_disk.read_bytes() != upload.payload:
                    lost += SIZE
            elif on_disk.exists() and on_disk.read_bytes() != upload.payload:
                half_files.append(upload.name)
        # what a client sees after the restart: acknowledged files whole, nothing else
        with contextlib.closing(ftp_login(again, "ftp")) as client:
            listed = sorted(client.nlst())
        for upload in acknowledged[:2]:
            assert asyncio.run(sftp_download(again, upload.name)) == upload.payload
        hidden = [p.name for p in home.iterdir() if p.name.startswith(".")]
    assert half_files == []
    assert hidden == []
    assert lost == 0
    assert set(listed) >= {u.name for u in acknowledged}
    assert all(name in {u.name for u in uploads} for name in listed)
    record(area="server killed", fault="SIGKILL during 20 concurrent uploads, then restart",
           protocols=", ".join(PROTOCOLS), sessions=WORKERS + 2, faults=1,
           bytes_lost=lost,
           detail=f"{len(acknowledged)} acknowledged, all intact; "
                  f"{WORKERS - len(acknowledged)} cut, none under a final name; "
                  f"{len(partials)} hidden partials left by the kill, never listed, removed "
                  "by the restart's sweep")
