"""OpenSSH public key lines: validation, canonical form and fingerprints."""

from __future__ import annotations

from dataclasses import dataclass

import asyncssh

from ferryd.users.store import InvalidPublicKeyError

FINGERPRINT_PREFIX = "SHA256:"


@dataclass(frozen=True, slots=True)
class OpenSshPublicKey:
    """One public key as it appears in an authorized_keys file."""

    line: str  # canonical "algorithm base64 [comment]", no newline
    algorithm: str
    fingerprint: str  # "SHA256:..." as ssh-keygen -l prints it
    comment: str


def parse_openssh_public_key(text: str) -> OpenSshPublicKey:
    """Parse one `algorithm base64 [comment]` line; raise InvalidPublicKeyError otherwise."""
    line = text.strip()
    if not line or "\n" in line or "\r" in line:
        raise InvalidPublicKeyError("expected exactly one OpenSSH public key line")
    algorithm = line.split(None, 1)[0]
    if algorithm.startswith("-----") or "-cert-" in algorithm:
        raise InvalidPublicKeyError(
            "expected an OpenSSH public key line ('ssh-ed25519 AAAA... comment'),"
            " not a PEM block or a certificate"
        )
    try:
        key = asyncssh.import_public_key(line)
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise InvalidPublicKeyError(f"not a valid OpenSSH public key: {exc}") from exc
    canonical = key.export_public_key("openssh").decode("ascii", "replace").strip()
    return OpenSshPublicKey(
        line=canonical,
        algorithm=key.get_algorithm(),
        fingerprint=key.get_fingerprint("sha256"),
        comment=key.get_comment() or "",
    )


def normalise_fingerprint(fingerprint: str) -> str:
    """The fingerprint with its "SHA256:" prefix, whether or not it came with one."""
    fingerprint = fingerprint.strip()
    if fingerprint.upper().startswith(FINGERPRINT_PREFIX.upper()):
        fingerprint = fingerprint[len(FINGERPRINT_PREFIX) :]
    return FINGERPRINT_PREFIX + fingerprint
