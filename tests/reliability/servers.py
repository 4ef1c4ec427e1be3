"""ferryd with every protocol on 127.0.0.1 (FTP, explicit and implicit FTPS, SFTP), and what
the suite reads of the running process: its memory and open file descriptors from /proc."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ferryd.sftp.host_keys import generate_host_key
from tests.functional.ferryd_process import (
    PLAIN_CONFIG,
    RunningFerryd,
    free_port,
    insecure_client_context,
    running_ferryd,
)

USER, PASSWORD = "alice", "wonderland"


def all_protocols_config(folder: Path, certificate: Path) -> str:
    """Plain FTP and AUTH TLS on one port (TLS optional), implicit FTPS, SFTP; atomic uploads."""
    host_key = folder / "host_ed25519_key"
    if not host_key.exists():  # a restarted server keeps its host key
        generate_host_key(str(host_key), "ssh-ed25519")
    return PLAIN_CONFIG + f"""\
ssl_enable=YES
rsa_cert_file={certificate}
force_local_logins_ssl=NO
force_local_data_ssl=NO
implicit_ssl_port={free_port()}
sftp_enable=YES
sftp_port=0
sftp_listen_address=127.0.0.1
sftp_host_key_file={host_key}
"""


@contextlib.contextmanager
def all_protocols_server(
    folder: Path, certificate: Path, extra: str = "", users: dict[str, str] | None = None,
    *, restart: bool = False,
) -> Iterator[RunningFerryd]:
    """restart=True: serve the folder of an earlier server again (its users and files)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = all_protocols_config(folder, certificate) + extra
    users = users or {USER: PASSWORD}
    with running_ferryd(folder, config, {} if restart else users,
                        want=("ftp", "ftps-implicit", "sftp")) as server:
        for name in users:
            server.home(name).mkdir(parents=True, exist_ok=True)
        warm_up(server)
        yield server


def warm_up(server: RunningFerryd) -> None:
    """One FTPS login (implicit: allowed whatever force_local_logins_ssl says): the user
    database opens its files then, and keeps them open, so descriptor counts taken
    afterwards compare like with like."""
    raw = socket.create_connection((server.host, server.implicit_port), timeout=30)
    with insecure_client_context().wrap_socket(raw, server_hostname="localhost") as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"220")
        sock.sendall(f"USER {USER}\r\nPASS {PASSWORD}\r\nQUIT\r\n".encode())
        replies = [reader.readline()[:3] for _ in range(3)]
        reader.close()
    assert replies == [b"331", b"230", b"221"], replies


@dataclass(frozen=True)
class ProcessFootprint:
    """What the server process holds: resident memory and open file descriptors."""

    rss_bytes: int
    open_fds: int

    @classmethod
    def of(cls, pid: int) -> ProcessFootprint:
        rss = 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
        return cls(rss_bytes=rss, open_fds=len(os.listdir(f"/proc/{pid}/fd")))

    def describe(self) -> str:
        return f"RSS {self.rss_bytes / (1 << 20):.1f} MiB, {self.open_fds} fds"
