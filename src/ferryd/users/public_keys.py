"""OpenSSH authorized_keys lines: validation, canonical form and fingerprints.

A line is `[options] algorithm base64 [comment]`, as in ~/.ssh/authorized_keys. ferryd serves
files only, so it keeps the options that fit that (from= is honoured at login; the restrictive
ones hold anyway: no pty, forwarding or agent is ever offered) and refuses the ones it cannot
honour (command=, environment=, permitopen=, ...) rather than store a line that would not do
what it says. Keys too weak to trust (DSA, RSA under 2048 bits) are refused too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import asyncssh

from ferryd.users.store import InvalidPublicKeyError

FINGERPRINT_PREFIX = "SHA256:"
# a line that starts with a key type has no options (as sshd decides)
_KEY_TYPE = re.compile(r"(?:ssh-|ecdsa-|sk-|-----)\S*(?:\s|$)")
MIN_RSA_BITS = 2048
WEAK_KEY_ALGORITHMS = frozenset({"ssh-dss"})

# authorized_keys options (lower case, as OpenSSH compares them) a file-only server keeps:
# from= is checked at login; the others restrict what ferryd never offers.
HONOURED_OPTIONS = frozenset({"from"})
RESTRICTIVE_OPTIONS = frozenset({
    "restrict", "no-pty", "no-port-forwarding", "no-agent-forwarding", "no-x11-forwarding",
    "no-user-rc",
})
_WHY_REFUSED = {
    "command": "ferryd runs no commands, so a forced command cannot be honoured",
    "environment": "ferryd runs no commands, so environment= has nothing to set",
    "permitopen": "ferryd does no port forwarding",
    "permitlisten": "ferryd does no port forwarding",
    "tunnel": "ferryd does no tunnel forwarding",
    "cert-authority": "ferryd does not accept SSH certificates",
    "principals": "ferryd does not accept SSH certificates",
}
_WHY_PERMISSIVE = "it grants what a file-only server never offers"
_PERMISSIVE_OPTIONS = frozenset({
    "pty", "port-forwarding", "agent-forwarding", "x11-forwarding", "user-rc",
    "no-touch-required",
})


@dataclass(frozen=True, slots=True)
class OpenSshPublicKey:
    """One public key as it appears in an authorized_keys file."""

    line: str  # canonical "[options ]algorithm base64 [comment]", no newline
    algorithm: str
    fingerprint: str  # "SHA256:..." as ssh-keygen -l prints it
    comment: str
    options: tuple[str, ...] = ()  # canonical "name" or 'name="value"', in the line's order


def _split_options(line: str) -> tuple[list[str], str]:
    """(the options, the rest of the line): options end at the first blank outside quotes
    and are separated by commas outside quotes, as sshd reads them."""
    options: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for index, char in enumerate(line):
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\" and quoted:
            current.append(char)
            escaped = True
        elif char == '"':
            quoted = not quoted
            current.append(char)
        elif quoted:
            current.append(char)
        elif char in " \t":
            options.append("".join(current))
            return options, line[index:].strip()
        elif char == ",":
            options.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise InvalidPublicKeyError("unbalanced quote in the key options")
    raise InvalidPublicKeyError(
        "no public key found: expected '[options] ssh-ed25519 AAAA... comment'"
    )


def _canonical_option(option: str) -> str:
    """The option with its name in lower case (sshd's names are case-insensitive); refused
    with the reason when ferryd cannot honour it."""
    name, has_value, value = option.partition("=")
    name = name.strip().lower()
    if not name:
        raise InvalidPublicKeyError("an empty option in the key options")
    if name in _WHY_REFUSED:
        shown = f"{name}=" if has_value else name
        raise InvalidPublicKeyError(f"option {shown} is not supported: {_WHY_REFUSED[name]}")
    if name in _PERMISSIVE_OPTIONS:
        raise InvalidPublicKeyError(f"option {name} is not supported: {_WHY_PERMISSIVE}")
    if name in HONOURED_OPTIONS:
        if not has_value or len(value) < 2 or not (value[0] == value[-1] == '"'):
            raise InvalidPublicKeyError(f'option {name} needs a quoted value: {name}="..."')
        return f"{name}={value}"
    if name in RESTRICTIVE_OPTIONS and not has_value:
        return name
    supported = ", ".join(sorted([*HONOURED_OPTIONS, *RESTRICTIVE_OPTIONS]))
    raise InvalidPublicKeyError(
        f"option {option!r} is not supported (ferryd keeps only: {supported})"
    )


def _refuse_weak(key: asyncssh.SSHKey) -> None:
    algorithm = key.get_algorithm()
    bits = getattr(getattr(key, "pyca_key", None), "key_size", None)
    if algorithm in WEAK_KEY_ALGORITHMS:
        raise InvalidPublicKeyError(f"{algorithm} (DSA) keys are too weak; use ssh-ed25519")
    if algorithm == "ssh-rsa" and isinstance(bits, int) and bits < MIN_RSA_BITS:
        raise InvalidPublicKeyError(
            f"a {bits}-bit RSA key is too weak: at least {MIN_RSA_BITS} bits, or ssh-ed25519"
        )


def _import_key(text: str) -> asyncssh.SSHKey:
    algorithm = text.split(None, 1)[0] if text.split() else ""
    if algorithm.startswith("-----") or "-cert-" in algorithm:
        raise InvalidPublicKeyError(
            "expected an OpenSSH public key line ('ssh-ed25519 AAAA... comment'),"
            " not a PEM block or a certificate"
        )
    try:
        return asyncssh.import_public_key(text)
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise InvalidPublicKeyError(f"not a valid OpenSSH public key: {exc}") from exc


def parse_openssh_public_key(text: str) -> OpenSshPublicKey:
    """Parse one authorized_keys line, `[options] algorithm base64 [comment]`; raise
    InvalidPublicKeyError, saying why, for anything else or anything ferryd cannot honour."""
    line = text.strip()
    if not line or "\n" in line or "\r" in line:
        raise InvalidPublicKeyError("expected exactly one OpenSSH public key line")
    options: tuple[str, ...] = ()
    if _KEY_TYPE.match(line):
        key = _import_key(line)
    else:
        raw_options, rest = _split_options(line)
        options = tuple(_canonical_option(option) for option in raw_options)
        key = _import_key(rest)
    _refuse_weak(key)
    canonical = key.export_public_key("openssh").decode("ascii", "replace").strip()
    if options:
        canonical = f"{','.join(options)} {canonical}"
        try:  # what the SSH front end will load: from= patterns must parse there too
            asyncssh.import_authorized_keys(canonical)
        except (asyncssh.KeyImportError, ValueError) as exc:
            raise InvalidPublicKeyError(f"bad key options: {exc}") from exc
    return OpenSshPublicKey(
        line=canonical,
        algorithm=key.get_algorithm(),
        fingerprint=key.get_fingerprint("sha256"),
        comment=key.get_comment() or "",
        options=options,
    )


def normalise_fingerprint(fingerprint: str) -> str:
    """The fingerprint with its "SHA256:" prefix, whether or not it came with one."""
    fingerprint = fingerprint.strip()
    if fingerprint.upper().startswith(FINGERPRINT_PREFIX.upper()):
        fingerprint = fingerprint[len(FINGERPRINT_PREFIX) :]
    return FINGERPRINT_PREFIX + fingerprint
