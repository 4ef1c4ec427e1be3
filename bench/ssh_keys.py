"""The SSH keys every SSH server and client of the harness shares: one ed25519 host key (so
every server signs the same way) and one ed25519 client key that logs the bench user in
everywhere (public-key logins cost the same on every server; no password hash to match)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_KEYGEN_TIMEOUT = 30
DEFAULT_CIPHER = "aes128-gcm@openssh.com"
KEX = "curve25519-sha256"
HOST_KEY_ALGORITHM = "ssh-ed25519"


class SshSetupError(RuntimeError):
    pass


@dataclass(frozen=True)
class SshKeys:
    host_key: Path  # private, OpenSSH format, readable by the bench user (sshd runs as it)
    client_key: Path  # private, the clients' identity
    authorized_keys: Path  # the client key's public line, for every server

    @property
    def public_line(self) -> str:
        return self.authorized_keys.read_text().strip()


def _keygen(path: Path, comment: str) -> None:
    binary = shutil.which("ssh-keygen")
    if binary is None:
        raise SshSetupError("ssh-keygen is missing (apt-get install openssh-client)")
    result = subprocess.run([binary, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f",
                             str(path)], capture_output=True, text=True, timeout=_KEYGEN_TIMEOUT)
    if result.returncode != 0:
        raise SshSetupError(f"ssh-keygen failed: {result.stderr.strip()}")


def make_ssh_keys(folder: Path, owner_uid: int, owner_gid: int) -> SshKeys:
    """Generate both keys in `folder`; the host key and authorized_keys belong to the bench
    user, since the unprivileged sshd must read them as that user (0600, as sshd demands)."""
    folder.mkdir(mode=0o755, exist_ok=True)
    host_key, client_key = folder / "host_ed25519", folder / "client_ed25519"
    _keygen(host_key, "ferryd-bench-host")
    _keygen(client_key, "ferryd-bench-client")
    authorized = folder / "authorized_keys"
    authorized.write_text(Path(f"{client_key}.pub").read_text())
    for path in (host_key, authorized):
        os.chown(path, owner_uid, owner_gid)
        os.chmod(path, 0o600)
    return SshKeys(host_key=host_key, client_key=client_key, authorized_keys=authorized)
