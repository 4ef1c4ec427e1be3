"""A user's stored key lines as what asyncssh checks a public-key login against.

Every line is checked again as `ferryd user key-add` checks it (a database written before a
rule, or by hand, may hold a DSA key or an option ferryd cannot honour): such lines are left
out and logged. asyncssh honours from= itself. Signatures with SHA-1 (`ssh-rsa`) are refused:
asyncssh's server verifies any signature a key type allows, whatever signature_algs says.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import asyncssh

from ferryd.users.public_keys import parse_openssh_public_key
from ferryd.users.store import InvalidPublicKeyError

log = logging.getLogger("ferryd.sftp")

WEAK_SIGNATURE_ALGORITHMS = frozenset({b"ssh-rsa"})  # RSA with SHA-1


def usable_key_lines(lines: Sequence[str]) -> list[str]:
    """The lines ferryd may trust: each one that key-add would accept, in its canonical form."""
    kept: list[str] = []
    for number, line in enumerate(lines, start=1):
        try:
            kept.append(parse_openssh_public_key(line).line)
        except InvalidPublicKeyError as exc:
            log.warning("ignoring stored key %d: %s", number, exc)
    return kept


class StrongSignatureKeys(asyncssh.SSHAuthorizedKeys):
    """asyncssh's authorized keys, and a key that matches may not sign with SHA-1.

    asyncssh verifies the login signature with the very key object passed to validate(),
    checking its algorithm against the key's all_sig_algorithms: narrowed here, on that
    object only, before the signature is checked."""

    def validate(self, key: asyncssh.SSHKey, client_host: str, client_addr: str,
                 cert_principals: Sequence[str] | None = None,
                 ca: bool = False) -> Mapping[str, object] | None:
        options = super().validate(key, client_host, client_addr, cert_principals, ca)
        if options is not None:
            key.all_sig_algorithms = set(key.all_sig_algorithms) - WEAK_SIGNATURE_ALGORITHMS
        return options


def authorized_keys(lines: Sequence[str]) -> StrongSignatureKeys | None:
    """The user's usable keys for asyncssh, or None when none is left."""
    usable = usable_key_lines(lines)
    return StrongSignatureKeys("\n".join(usable)) if usable else None
