"""Password hashes of comparable cost for every server's logins.

ferryd verifies argon2id at the cost its configuration names (argon2_time_cost,
argon2_memory_cost, argon2_parallelism); the harness sets it (`--login-cost`: OWASP's
m=19 MiB t=2 p=1 by default, or ferryd's own default t=3 m=64 MiB p=4). pyftpdlib gets the very
same argon2id hash through a small authorizer. vsftpd and proftpd check the system user's
/etc/shadow entry with crypt(3), and pure-ftpd its puredb entry with crypt(3): they get a
SHA-512-crypt hash whose round count the harness calibrates so that one verification takes as
long as the argon2id one on this machine (the cost of SHA-512-crypt is linear in its rounds, so
the match is close). SHA-512-crypt rather than yescrypt or argon2id: those forking servers
verify in one process per connection, and a burst of hundreds of memory-hard verifications at
once would exhaust this machine's memory; SHA-512-crypt costs the same CPU time in a few KiB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher

PROBE_ROUNDS = 100_000
MIN_ROUNDS, MAX_ROUNDS = 1000, 999_999_999
_CALIBRATION_ROUNDS = 5


@dataclass(frozen=True)
class Argon2Cost:
    time_cost: int
    memory_cost: int  # KiB
    parallelism: int

    def config_lines(self) -> str:
        """ferryd's options for this cost."""
        return (f"argon2_time_cost={self.time_cost}\nargon2_memory_cost={self.memory_cost}\n"
                f"argon2_parallelism={self.parallelism}\n")

    def describe(self) -> str:
        return f"t={self.time_cost} m={self.memory_cost // 1024}MiB p={self.parallelism}"


ARGON2_COSTS = {
    "owasp": Argon2Cost(time_cost=2, memory_cost=19456, parallelism=1),  # OWASP's minimum
    "default": Argon2Cost(time_cost=3, memory_cost=65536, parallelism=4),  # ferryd's default
}


@dataclass(frozen=True)
class LoginHashes:
    password: str
    argon2_cost: Argon2Cost
    argon2id: str  # for ferryd's configured cost and pyftpdlib
    sha512crypt: str  # for crypt(3): vsftpd and proftpd via /etc/shadow, pure-ftpd via puredb
    sha512crypt_rounds: int
    argon2id_ms: float
    sha512crypt_ms: float

    def describe(self) -> str:
        return (
            f"argon2id {self.argon2_cost.describe()} verifies in {self.argon2id_ms:.0f} ms; "
            "SHA-512-crypt "
            f"with {self.sha512crypt_rounds} rounds in {self.sha512crypt_ms:.0f} ms (fastest of "
            f"{_CALIBRATION_ROUNDS} on one core)"
        )


class _LibCrypt:
    def __init__(self) -> None:
        name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
        lib = ctypes.CDLL(name)
        lib.crypt_gensalt.restype = ctypes.c_char_p
        lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p,
                                      ctypes.c_int]
        lib.crypt.restype = ctypes.c_char_p
        lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        self._lib = lib

    def hash(self, password: str, prefix: str, cost: int) -> str:
        setting = self._lib.crypt_gensalt(prefix.encode(), cost, None, 0)
        if not setting:
            raise RuntimeError(f"libcrypt cannot make a {prefix} setting with cost {cost}")
        hashed = self._lib.crypt(password.encode(), setting)
        if not hashed or hashed.startswith(b"*"):
            raise RuntimeError(f"libcrypt failed to hash with {setting!r}")
        return str(hashed.decode())

    def verify(self, password: str, hashed: str) -> bool:
        result = self._lib.crypt(password.encode(), hashed.encode())
        return bool(result) and result.decode() == hashed


def _best_seconds(call: Callable[[], object], rounds: int = _CALIBRATION_ROUNDS) -> float:
    """The fastest of a few calls: the least disturbed by other load on a shared machine."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def make_login_hashes(password: str, cost: Argon2Cost) -> LoginHashes:
    """Hash the password for every server, SHA-512-crypt calibrated to the argon2id cost."""
    hasher = PasswordHasher(time_cost=cost.time_cost, memory_cost=cost.memory_cost,
                            parallelism=cost.parallelism)
    argon = hasher.hash(password)
    argon_seconds = _best_seconds(lambda: hasher.verify(argon, password))
    crypt = _LibCrypt()
    probe = crypt.hash(password, "$6$", PROBE_ROUNDS)
    probe_seconds = _best_seconds(lambda: crypt.verify(password, probe))
    rounds = int(PROBE_ROUNDS * argon_seconds / max(probe_seconds, 1e-6))
    rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, rounds))
    hashed = crypt.hash(password, "$6$", rounds)
    if not crypt.verify(password, hashed):
        raise RuntimeError("libcrypt's SHA-512-crypt does not verify its own hash")
    hashed_seconds = _best_seconds(lambda: crypt.verify(password, hashed))
    return LoginHashes(
        password=password, argon2_cost=cost, argon2id=argon, sha512crypt=hashed,
        sha512crypt_rounds=rounds,
        argon2id_ms=argon_seconds * 1000, sha512crypt_ms=hashed_seconds * 1000,
    )
