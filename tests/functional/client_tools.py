"""Driving the real FTP clients (curl, lftp, rclone) against ferryd, and the seed's configs.

Every client runs as a subprocess with a timeout, a private HOME (no ~/.curlrc, ~/.lftprc or
rclone.conf of the machine leaks in) and a UTF-8 locale (lftp converts names by the locale).
A client that is not installed skips the test with the reason; one that fails raises an
AssertionError carrying its command line and whole output, so a failure explains itself.
"""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.functional.ferryd_process import (
    ReusingFTP_TLS,
    RunningFerryd,
    insecure_client_context,
    running_ferryd,
)

USER, PASSWORD = "alice", "wonderland"
CLIENT_TIMEOUT = 60.0  # seconds; the default for every client subprocess
MiB = 1 << 20


# -- running clients ----------------------------------------------------------------------
def client_binary(name: str) -> str:
    """The client's path, or skip the test: the only reason these tests skip."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install {name})")
    return path


def client_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": str(home),
    }
    env.update(extra or {})
    return env


def run_client(
    argv: Sequence[str], *, home: Path, env: dict[str, str] | None = None,
    timeout: float = CLIENT_TIMEOUT, check: bool = True, cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one client command; raise with its output when it fails or exceeds the timeout."""
    shown = " ".join(argv)
    try:
        result = subprocess.run(
            list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
            errors="replace", timeout=timeout, env=client_env(home, env), cwd=cwd or home,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"timed out after {timeout} s: {shown}\n--- stdout\n{_text(exc.stdout)}"
            f"\n--- stderr\n{_text(exc.stderr)}"
        ) from exc
    if check and result.returncode != 0:
        raise AssertionError(
            f"exit status {result.returncode}: {shown}\n--- stdout\n{result.stdout}"
            f"\n--- stderr\n{result.stderr}"
        )
    return result


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


def client_version(name: str) -> tuple[int, ...] | None:
    """`curl --version` -> (7, 88, 1); None when the client is missing or says no version."""
    path = shutil.which(name)
    if path is None:
        return None
    result = subprocess.run(
        [path, "--version"], capture_output=True, text=True, errors="replace", timeout=15,
        check=False,
    )
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", result.stdout)
    return tuple(int(part) for part in match.groups()) if match else None


# -- payloads and listings ----------------------------------------------------------------
def write_payload(path: Path, size: int) -> str:
    """A file of `size` random bytes; returns its SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        remaining = size
        while remaining:
            block = os.urandom(min(remaining, 4 * MiB))
            handle.write(block)
            digest.update(block)
            remaining -= len(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def parse_ls_lines(text: str) -> dict[str, int]:
    """`ls -l` lines (LIST output) -> {name: size}; `total` lines and blanks are skipped."""
    entries: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split(None, 8)
        if len(parts) < 9 or parts[0][:1] not in ("-", "d", "l"):
            continue
        name = parts[8]
        if parts[0].startswith("l"):
            name = name.split(" -> ", 1)[0]
        entries[name] = int(parts[4])
    return entries


# -- the seed's configurations --------------------------------------------------------------
# ../shared/seed/README.md, "Common settings in vsftpd.conf", with the summary's `# ...`
# annotations removed (vsftpd.conf has no trailing comments) and only the file path changed.
SEED_COMMON = """\
anonymous_enable=NO
local_enable=YES
write_enable=YES
xferlog_enable=YES
xferlog_std_format=NO
ascii_upload_enable=YES
ascii_download_enable=YES
chroot_local_user=YES
listen=YES
allow_writeable_chroot=YES
use_localtime=YES
force_dot_files=YES
ssl_enable=YES
rsa_cert_file={certificate}
ssl_sslv2=NO
ssl_sslv3=NO
ssl_tlsv1=YES
#force_local_data_ssl=YES
#force_local_logins_ssl=YES
"""

# The four variants, as the seed writes them; `[server address]` -> 127.0.0.1, port 990 -> 0,
# and the passive range 30000-30000 -> {pasv_min}-{pasv_max} (0/0 unless a test keeps 30000).
SEED_VARIANTS: dict[str, str] = {
    "active-explicit": """\
connect_from_port_20=YES
pasv_enable=NO
implicit_ssl=NO
""",
    "active-implicit": """\
connect_from_port_20=YES
pasv_enable=NO
implicit_ssl=YES
listen_port=0
""",
    "pasv-explicit": """\
pasv_enable=YES
pasv_address=127.0.0.1
pasv_addr_resolve=YES
pasv_min_port={pasv_min}
pasv_max_port={pasv_max}
implicit_ssl=NO
""",
    "pasv-implicit": """\
pasv_enable=YES
pasv_address=127.0.0.1
pasv_addr_resolve=YES
pasv_min_port={pasv_min}
pasv_max_port={pasv_max}
implicit_ssl=YES
listen_port=0
""",
}

# What the test machine substitutes: the listening address, and the explicit variants' port 21.
SEED_SUBSTITUTIONS = """\
listen_address=127.0.0.1
listen_port=0
"""


def seed_config(
    variant: str, certificate: Path, *, pasv_min: int = 0, pasv_max: int = 0, extra: str = ""
) -> str:
    """The seed's common block plus one variant; `extra` lines come last (and win)."""
    values = {"certificate": str(certificate), "pasv_min": pasv_min, "pasv_max": pasv_max}
    return (
        SEED_SUBSTITUTIONS + SEED_COMMON.format(**values)
        + SEED_VARIANTS[variant].format(**values) + extra
    )


@dataclass(frozen=True)
class SeedServer:
    variant: str
    server: RunningFerryd
    certificate: Path

    @property
    def implicit(self) -> bool:
        return self.variant.endswith("implicit")

    @property
    def active(self) -> bool:
        return self.variant.startswith("active")

    @property
    def port(self) -> int:
        return self.server.implicit_port if self.implicit else self.server.ports["ftp"]

    @property
    def home(self) -> Path:
        return self.server.home(USER)


@contextlib.contextmanager
def seed_server(
    folder: Path, variant: str, certificate: Path, *, pasv_min: int = 0, pasv_max: int = 0,
    extra: str = "",
) -> Iterator[SeedServer]:
    config = seed_config(variant, certificate, pasv_min=pasv_min, pasv_max=pasv_max, extra=extra)
    want = ("ftps-implicit",) if variant.endswith("implicit") else ("ftp",)
    if "implicit_ssl_port=" in extra:
        want = ("ftp", "ftps-implicit")
    with running_ferryd(folder, config, {USER: PASSWORD}, want=want) as server:
        server.home(USER).mkdir(parents=True, exist_ok=True)
        yield SeedServer(variant, server, certificate)


# -- ftplib over TLS --------------------------------------------------------------------------
class SeedFTP(ReusingFTP_TLS):
    """ReusingFTP_TLS that remembers, for each data connection, its peer (port 20 under
    connect_from_port_20, the passive port otherwise), TLS version, resumption, certificate."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        super().__init__(context=context or insecure_client_context())
        self.data_peers: list[tuple[str, int]] = []
        self.data_tls: list[tuple[str | None, bool]] = []
        self.data_certs: list[bytes | None] = []

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[socket.socket, int]:
        conn, size = super().ntransfercmd(cmd, rest)
        self.data_peers.append(conn.getpeername()[:2])
        if isinstance(conn, ssl.SSLSocket):
            self.data_tls.append((conn.version(), conn.session_reused))
            self.data_certs.append(conn.getpeercert(binary_form=True))
        return conn, size


class ImplicitSeedFTP(SeedFTP):
    """Implicit FTPS: TLS from the first byte, so connect() wraps before the greeting."""

    def connect(  # type: ignore[override]
        self, host: str = "", port: int = 0, timeout: float = -999.0,
        source_address: tuple[str, int] | None = None,
    ) -> str:
        if host:
            self.host = host
        if port > 0:
            self.port = port
        if timeout != -999.0:
            self.timeout = timeout
        raw = socket.create_connection((self.host, self.port), self.timeout,
                                       source_address=source_address)
        try:
            self.sock = self.context.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def tls_context(maximum: str = "TLSv1_3") -> ssl.SSLContext:
    context = insecure_client_context()
    context.maximum_version = getattr(ssl.TLSVersion, maximum)
    return context


@contextlib.contextmanager
def seed_ftplib(seed: SeedServer, maximum_tls: str = "TLSv1_3") -> Iterator[SeedFTP]:
    """A logged-in ftplib client in the seed server's mode (implicit or AUTH TLS), PROT P."""
    cls = ImplicitSeedFTP if seed.implicit else SeedFTP
    client = cls(context=tls_context(maximum_tls))
    try:
        client.connect(seed.server.host, seed.port, timeout=20)
        if not seed.implicit:
            client.auth()
        client.login(USER, PASSWORD)
        client.prot_p()
        client.set_pasv(not seed.active)
        yield client
        with contextlib.suppress(ftplib.all_errors):
            client.quit()
    finally:
        client.close()


# -- rclone -----------------------------------------------------------------------------------
RCLONE_FLAGS = ["--low-level-retries", "1", "--retries", "1", "--contimeout", "10s",
                "--timeout", "30s", "-vv", "--dump", "headers"]


def rclone_obscure(binary: str, home: Path, password: str = PASSWORD) -> str:
    return run_client([binary, "obscure", password], home=home, timeout=30).stdout.strip()


def rclone_env(home: Path, host: str, port: int, obscured: str) -> dict[str, str]:
    """A remote named `ferry`, made from environment variables only (no config file)."""
    return {
        "RCLONE_CONFIG": str(home / "no-such-rclone.conf"),
        "RCLONE_CACHE_DIR": str(home / "rclone-cache"),
        "RCLONE_CONFIG_FERRY_TYPE": "ftp",
        "RCLONE_CONFIG_FERRY_HOST": host,
        "RCLONE_CONFIG_FERRY_PORT": str(port),
        "RCLONE_CONFIG_FERRY_USER": USER,
        "RCLONE_CONFIG_FERRY_PASS": obscured,
    }


def rclone_sent(log: str) -> list[str]:
    """The FTP commands rclone sent, from its `--dump headers` log."""
    return re.findall(r'FTP Tx: "([^"]*)"', log)
