"""SSH host keys: loaded from sftp_host_key_file, or made in <data_dir>/ssh/ on first start.

Blocking (file I/O, RSA key generation): app.py calls these in a thread, the CLI directly.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import asyncssh

HOST_KEY_FOLDER = "ssh"
RSA_BITS = 3072
# (asyncssh algorithm, file name) in the order OpenSSH's sshd -A / ssh-keygen -A writes them
DEFAULT_HOST_KEYS: tuple[tuple[str, str], ...] = (
    ("ssh-ed25519", "ssh_host_ed25519_key"),
    ("ssh-rsa", "ssh_host_rsa_key"),
)


class HostKeyError(Exception):
    """A host key file that cannot be read or written; the text says which and why."""


@dataclass(frozen=True)
class HostKey:
    path: str
    key: asyncssh.SSHKey

    @property
    def algorithm(self) -> str:
        return self.key.get_algorithm()

    @property
    def fingerprint(self) -> str:
        return self.key.get_fingerprint("sha256")


def configured_paths(setting: str | None) -> list[str]:
    """sftp_host_key_file: one file or a comma-separated list."""
    if not setting:
        return []
    return [part.strip() for part in setting.split(",") if part.strip()]


def default_folder(data_dir: str) -> str:
    return os.path.join(data_dir, HOST_KEY_FOLDER)


def _write_private(path: str, data: bytes, *, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_TRUNC if force else os.O_EXCL)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def generate_host_key(path: str, algorithm: str, *, force: bool = False) -> HostKey:
    """Make one key (RSA: 3072 bits) and write it as OpenSSH writes host keys: the private
    key mode 0600, the public key beside it as PATH.pub."""
    folder = os.path.dirname(path)
    try:
        if folder:
            os.makedirs(folder, mode=0o700, exist_ok=True)
        options = {"key_size": RSA_BITS} if algorithm == "ssh-rsa" else {}
        key = asyncssh.generate_private_key(algorithm, comment="ferryd host key", **options)
        _write_private(path, key.export_private_key("openssh"), force=force)
        with open(path + ".pub", "wb") as handle:
            handle.write(key.export_public_key("openssh"))
    except FileExistsError as exc:
        raise HostKeyError(f"{path} exists; use --force to replace it") from exc
    except OSError as exc:
        raise HostKeyError(f"{path}: cannot write the host key ({exc.strerror})") from exc
    return HostKey(path, key)


def generate_default_host_keys(folder: str, *, force: bool = False) -> list[HostKey]:
    return [
        generate_host_key(os.path.join(folder, name), algorithm, force=force)
        for algorithm, name in DEFAULT_HOST_KEYS
    ]


def load_host_keys(paths: Sequence[str]) -> list[HostKey]:
    keys: list[HostKey] = []
    for path in paths:
        try:
            key = asyncssh.read_private_key(path)
        except OSError as exc:
            raise HostKeyError(
                f"sftp_host_key_file={path}: cannot read it ({exc.strerror})"
            ) from exc
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise HostKeyError(
                f"sftp_host_key_file={path}: not an unencrypted private key ({exc})"
            ) from exc
        keys.append(HostKey(path, key))
    return keys


def prepare_host_keys(setting: str | None, data_dir: str) -> tuple[list[HostKey], list[HostKey]]:
    """(every host key to serve with, the ones generated now). With no sftp_host_key_file,
    the ed25519 and RSA keys in <data_dir>/ssh/, each made when missing."""
    paths = configured_paths(setting)
    if paths:
        return load_host_keys(paths), []
    folder = default_folder(data_dir)
    made: list[HostKey] = []
    for algorithm, name in DEFAULT_HOST_KEYS:
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            made.append(generate_host_key(path, algorithm))
    keys = load_host_keys([os.path.join(folder, name) for _, name in DEFAULT_HOST_KEYS])
    return keys, made
