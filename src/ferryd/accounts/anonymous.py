"""Anonymous FTP (anonymous_enable=YES): the names `ftp` and `anonymous`, vsftpd's rules.

The password is the visitor's e-mail address by convention; deny_email_enable refuses the
ones in banned_email_file, secure_email_list_enable accepts only the ones in
email_password_file. The anonymous root is anon_root, or the home of ftp_username; when
ferryd runs as root the session's file work runs as ftp_username (user.system is set).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
from dataclasses import dataclass

from ferryd.users.model import LoginOrigin, SystemIdentity, User, is_anonymous_name

log = logging.getLogger("ferryd.accounts")


@dataclass(frozen=True)
class AnonymousRules:
    anon_root: str | None
    ftp_username: str
    no_anon_password: bool
    banned_passwords: frozenset[str] | None  # deny_email_enable: banned_email_file's lines
    allowed_passwords: frozenset[str] | None  # secure_email_list_enable: email_password_file
    run_as_ftp_user: bool  # ferryd is root: file work runs as ftp_username


class AnonymousLogins:
    """The UserStore protocol for the anonymous names; every other name is unknown here."""

    def __init__(self, rules: AnonymousRules) -> None:
        self._rules = rules

    @property
    def rules(self) -> AnonymousRules:
        return self._rules

    async def get(self, name: str) -> User | None:
        if not is_anonymous_name(name):
            return None
        return await asyncio.to_thread(self._user)

    async def authenticate(self, name: str, password: str,
                           origin: LoginOrigin | None = None) -> User | None:
        del origin
        if not is_anonymous_name(name):
            return None
        rules = self._rules
        if rules.banned_passwords is not None and password in rules.banned_passwords:
            log.info("refused an anonymous login: password %r is in banned_email_file",
                     password[:64])
            return None
        if rules.allowed_passwords is not None and password not in rules.allowed_passwords:
            log.info("refused an anonymous login: password not in email_password_file")
            return None
        return await asyncio.to_thread(self._user)

    def _user(self) -> User | None:
        rules = self._rules
        try:
            account: pwd.struct_passwd | None = pwd.getpwnam(rules.ftp_username)
        except KeyError:
            account = None
        if account is None and (rules.run_as_ftp_user or not rules.anon_root):
            log.error("anonymous login refused: ftp_username=%s is not a system user%s",
                      rules.ftp_username,
                      "" if rules.anon_root else " (and anon_root is not set)")
            return None
        if account is not None and account.pw_uid == 0:
            log.error("anonymous login refused: ftp_username=%s is root", rules.ftp_username)
            return None
        home = rules.anon_root or (account.pw_dir if account is not None else "/")
        identity = (
            SystemIdentity(uid=account.pw_uid, gid=account.pw_gid, groups=())
            if account is not None and rules.run_as_ftp_user else None
        )
        return User(name="anonymous", home=os.path.normpath(home), enabled=True, created=0.0,
                    system=identity, anonymous=True)
