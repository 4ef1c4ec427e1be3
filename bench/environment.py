"""The shared ground for every server: one work folder, the same files, certificate and logins."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.installing import DebianTree
from bench.passwords import Argon2Cost, LoginHashes, make_login_hashes
from bench.ssh_keys import SshKeys, make_ssh_keys
from bench.system_user import SystemUser, ensure_system_user, remove_system_user

VIRTUAL_USER = "bench"  # the login name for ferryd, pyftpdlib and pure-ftpd (virtual users)
BIG_FILE = "big.bin"
SMALL_FOLDER = "small"
UPLOAD_FOLDER = "up"
EMPTY_FILE = "empty.bin"  # a zero-byte RETR measures a session's set-up cost
_RANDOM_CHUNK = 8 << 20
_CERT_TIMEOUT = 60


@dataclass
class BenchEnvironment:
    work_dir: Path
    home: Path  # served by every server: big.bin, small/, up/ (uploads land here)
    certificate: Path  # one PEM with key and certificate, from `ferryd cert generate`
    ssh: SshKeys  # one host key for every SSH server, one client key for every login
    hashes: LoginHashes
    system_user: SystemUser
    debian: DebianTree
    file_size: int
    small_files: int
    small_size: int

    @property
    def password(self) -> str:
        return self.hashes.password

    @property
    def client_dir(self) -> Path:
        """Where the SSH clients write downloads (tmpfs, emptied after each measurement)."""
        path = self.work_dir / "client"
        path.mkdir(exist_ok=True)
        return path

    @property
    def big_file(self) -> Path:
        return self.home / BIG_FILE

    @property
    def small_folder(self) -> Path:
        return self.home / SMALL_FOLDER

    @property
    def upload_folder(self) -> Path:
        return self.home / UPLOAD_FOLDER

    def small_names(self) -> list[str]:
        return [f"f{index:05d}.bin" for index in range(1, self.small_files + 1)]

    def server_dir(self, name: str) -> Path:
        path = self.work_dir / "servers" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def clear_uploads(self) -> None:
        _empty(self.upload_folder)

    def clear_client(self) -> None:
        _empty(self.client_dir)


def _empty(folder: Path) -> None:
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def default_work_root() -> Path:
    """tmpfs when there is one: the servers' data paths are measured, not this VM's disk."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


def _write_random_file(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        remaining = size
        while remaining > 0:
            piece = min(remaining, _RANDOM_CHUNK)
            handle.write(os.urandom(piece))
            remaining -= piece


def _warm_memory(folder: Path, size: int) -> None:
    """Touch twice the file size of fresh pages once, so the first server measured does not pay
    this VM's first-touch cost for page-cache memory that later servers get warm."""
    scratch = folder / "warm-up.bin"
    block = bytes(_RANDOM_CHUNK)
    for _ in range(2):
        with open(scratch, "wb") as handle:
            for _ in range(max(1, size // _RANDOM_CHUNK)):
                handle.write(block)
        scratch.unlink()


def generate_certificate(path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ferryd.cli", "cert", "generate", "--out", str(path),
         "--cn", "localhost", "--san", "localhost", "--san", "127.0.0.1", "--force"],
        capture_output=True, text=True, timeout=_CERT_TIMEOUT,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ferryd cert generate failed: {result.stderr.strip()}")


def prepare_environment(
    *, work_root: Path, debian: DebianTree, file_size: int, small_files: int, small_size: int,
    login_cost: Argon2Cost,
) -> BenchEnvironment:
    work_dir = Path(tempfile.mkdtemp(prefix="ferryd-bench-", dir=work_root))
    os.chmod(work_dir, 0o755)
    home = work_dir / "home"
    for folder in (home, home / SMALL_FOLDER, home / UPLOAD_FOLDER):
        folder.mkdir(mode=0o755)
        os.chmod(folder, 0o755)
    hashes = make_login_hashes(secrets.token_urlsafe(12), login_cost)
    system_user = ensure_system_user(home, hashes.sha512crypt)
    os.chown(home / UPLOAD_FOLDER, system_user.uid, system_user.gid)
    certificate = work_dir / "bench.pem"
    generate_certificate(certificate)
    os.chmod(certificate, 0o644)  # forking servers may read it after dropping privileges
    ssh = make_ssh_keys(work_dir / "ssh", system_user.uid, system_user.gid)
    _write_random_file(home / BIG_FILE, file_size)
    (home / EMPTY_FILE).write_bytes(b"")
    payload = os.urandom(small_size)
    for index in range(1, small_files + 1):
        (home / SMALL_FOLDER / f"f{index:05d}.bin").write_bytes(payload)
    _warm_memory(work_dir, file_size)
    return BenchEnvironment(
        work_dir=work_dir, home=home, certificate=certificate, ssh=ssh, hashes=hashes,
        system_user=system_user, debian=debian, file_size=file_size, small_files=small_files,
        small_size=small_size,
    )


def dispose_environment(env: BenchEnvironment, *, keep_user: bool) -> None:
    shutil.rmtree(env.work_dir, ignore_errors=True)
    if not keep_user:
        remove_system_user(env.system_user)
