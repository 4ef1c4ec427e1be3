"""One SSH connection's failed login attempts: wrong passwords and public keys that are not
authorized. Pure bookkeeping.

An OpenSSH client offers every key it has (agent, ~/.ssh/id_*) before the right one, so an
offered key that is not authorized is normal and cannot count as a wrong password would.
ferryd counts keys two ways:
- towards max_login_fails (the connection is closed): only the rejected keys beyond
  FREE_KEY_OFFERS, so a client with a handful of keys logs in as before, while a client
  trying key after key is cut off like one guessing passwords;
- towards bans (ban_max_failures): a connection that ends without logging in after a key was
  rejected is one failed login (unless a wrong password on it was counted already), as
  OpenSSH logs such a connection and fail2ban counts it.
"""

from __future__ import annotations

from dataclasses import dataclass

FREE_KEY_OFFERS = 5
"""Rejected keys a connection may offer before each further one counts as a failed login;
with max_login_fails=3, the 8th rejected key closes the connection (OpenSSH's MaxAuthTries,
6 by default, counts keys and passwords alike)."""


@dataclass
class LoginAttempts:
    max_login_fails: int  # 0: no limit
    wrong_passwords: int = 0
    rejected_keys: int = 0

    @property
    def failures(self) -> int:
        """Failed attempts as max_login_fails counts them."""
        return self.wrong_passwords + max(0, self.rejected_keys - FREE_KEY_OFFERS)

    def password_failed(self) -> None:
        self.wrong_passwords += 1

    def key_rejected(self) -> None:
        self.rejected_keys += 1

    def limit_reached(self) -> bool:
        """max_login_fails: the connection must be closed."""
        return bool(self.max_login_fails) and self.failures >= self.max_login_fails

    def failed_login_at_close(self) -> bool:
        """The connection ended without a login: whether it counts as one failed login (its
        wrong passwords were counted one by one as they came)."""
        return self.rejected_keys > 0 and self.wrong_passwords == 0
