"""Handlers for login, TLS negotiation and server information commands."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ferryd.ftp.proto.commands import COMMANDS
from ferryd.ftp.proto.core import Command
from ferryd.ftp.proto.facts import ALL_FACTS, feat_mlst_line
from ferryd.ftp.proto.replies import Reply
from ferryd.ftp.proto.state import Transition
from ferryd.ftp.state import ConnectionState
from ferryd.session.file_session import CHECKSUM_ALGORITHMS
from ferryd.storage.errors import StorageError

if TYPE_CHECKING:
    from ferryd.ftp.connection import FtpConnection

log = logging.getLogger("ferryd.ftp")


def _tls_refusal(conn: FtpConnection, name: str) -> Reply | None:
    """vsftpd's TLS rules at USER: force_local_logins_ssl for users, allow_anon_ssl and
    force_anon_logins_ssl for anonymous logins."""
    services = conn.services
    if services.authenticator.is_anonymous(name):
        if conn.tls_active and not services.allow_anonymous_tls:
            return Reply(530, "Anonymous sessions may not use encryption.")
        if services.force_anonymous_logins_tls and not conn.tls_active:
            return Reply(530, "Anonymous sessions must use encryption.")
        return None
    if services.force_logins_tls and not conn.tls_active:
        return Reply(530, "Non-anonymous sessions must use encryption.")
    return None


async def handle_user(conn: FtpConnection, command: Command) -> Reply:
    if conn.core.logged_in:
        return Reply(530, "Can't change to another user.")
    name = command.argument.strip()
    refusal = _tls_refusal(conn, name)
    if refusal is not None:
        return refusal
    if conn.services.authenticator.refused_by_userlist(
        name, client_address=conn.peer_address, protocol=conn.protocol_name
    ):
        conn.state.user_name = None
        conn.core.apply(Transition.LOGIN_FAILED)
        return Reply(530, "Permission denied.")
    conn.state.user_name = name
    conn.core.apply(Transition.USER_ACCEPTED)
    if await conn.services.authenticator.needs_no_password(name):  # no_anon_password
        return await _log_in(conn, name, "")
    return Reply(331, "Please specify the password.")


async def handle_pass(conn: FtpConnection, command: Command) -> Reply:
    if conn.core.logged_in:
        return Reply(230, "Already logged in.")
    return await _log_in(conn, conn.state.user_name or "", command.argument)


async def _log_in(conn: FtpConnection, name: str, password: str) -> Reply:
    services = conn.services
    user = await services.authenticator.authenticate(
        name, password, client_address=conn.peer_address, protocol=conn.protocol_name
    )
    if user is None:
        conn.state.login_failures += 1
        conn.state.user_name = None
        conn.core.apply(Transition.LOGIN_FAILED)
        limit = services.authenticator.rules.max_login_fails
        if limit and conn.state.login_failures >= limit:
            conn.core.send_reply(Reply(530, "Login incorrect."))
            conn.core.close()
            return Reply(421, "Too many failed logins, closing.")
        return Reply(530, "Login incorrect.")
    try:
        conn.state.session = await services.open_session(
            user, conn.peer_address, conn.protocol_name
        )
    except (OSError, StorageError) as exc:
        log.error("login of %s: cannot set up the session: %s", user.name, exc)
        conn.state.user_name = None
        conn.core.apply(Transition.LOGIN_FAILED)
        # the home folder, the jail, a user_config_dir file or a PAM session (session_support)
        return Reply(530, "Login refused: your session cannot be set up; the server log "
                          "says why.")
    conn.state.anonymous = user.anonymous
    conn.core.apply(Transition.LOGIN_SUCCEEDED)
    return Reply(230, "Login successful.")


async def handle_acct(conn: FtpConnection, command: Command) -> Reply:
    del conn, command
    return Reply(202, "ACCT not needed here.")


async def handle_rein(conn: FtpConnection, command: Command) -> Reply:
    del command
    await conn.abort_transfer()
    conn.data.reset()
    old = conn.state
    if old.session is not None:
        await old.session.close()
    conn.state = ConnectionState(
        protected_data=old.protected_data, pbsz_done=old.pbsz_done,
        login_failures=old.login_failures,
    )
    conn.core.apply(Transition.LOGGED_OUT)
    return Reply(220, "Ready for a new user.")


async def handle_quit(conn: FtpConnection, command: Command) -> Reply | None:
    del command
    await conn.wait_for_transfer()
    conn.core.send_reply(Reply(221, "Goodbye."))
    conn.core.close()
    return None


async def handle_auth(conn: FtpConnection, command: Command) -> Reply | None:
    mechanism = command.argument.strip().upper()
    if conn.services.tls is None:
        return Reply(502, "TLS is off on this server (ssl_enable=NO).")
    if mechanism not in ("TLS", "TLS-C", "SSL", "TLS-P"):
        return Reply(504, "Unknown AUTH type: use AUTH TLS.")
    if conn.tls_active:
        return Reply(503, "Already using TLS.")
    if conn.core.logged_in:
        return Reply(503, "AUTH must come before login.")
    await conn.send(Reply(234, "Proceed with negotiation."))
    await conn.upgrade_to_tls()
    if mechanism in ("SSL", "TLS-P"):
        conn.state.protected_data = True
    return None


async def handle_pbsz(conn: FtpConnection, command: Command) -> Reply:
    if not conn.tls_active:
        return Reply(503, "PBSZ needs a secure connection first (AUTH TLS).")
    conn.state.pbsz_done = True
    if command.argument.strip() != "0":
        return Reply(200, "PBSZ=0")
    return Reply(200, "PBSZ set to 0.")


async def handle_prot(conn: FtpConnection, command: Command) -> Reply:
    level = command.argument.strip().upper()
    if not conn.tls_active:
        return Reply(503, "PROT needs a secure connection first (AUTH TLS).")
    if not conn.state.pbsz_done:
        return Reply(503, "PBSZ 0 must come before PROT.")
    if level == "C":
        if conn.force_data_tls:
            return Reply(534, "Data connections must be encrypted: use PROT P.")
        conn.state.protected_data = False
        return Reply(200, "PROT now Clear.")
    if level == "P":
        conn.state.protected_data = True
        return Reply(200, "PROT now Private.")
    if level in ("S", "E"):
        return Reply(536, f"PROT {level} is not supported: use P or C.")
    return Reply(504, "Unknown PROT level: use P or C.")


async def handle_ccc(conn: FtpConnection, command: Command) -> Reply:
    del command
    if not conn.tls_active:
        return Reply(533, "The control connection is not protected.")
    return Reply(534, "CCC refused: the control connection stays encrypted.")


async def handle_syst(conn: FtpConnection, command: Command) -> Reply:
    del conn, command
    return Reply(215, "UNIX Type: L8")


def feature_lines(conn: FtpConnection) -> list[str]:
    features = ["EPRT", "EPSV", "MDTM", "MFMT", feat_mlst_line(conn.state.mlst_facts), "PASV",
                "REST STREAM", "SIZE", "TVFS", "UTF8", "XCRC", "XMD5", "XSHA1", "XSHA256",
                "XSHA512"]
    algorithms = ";".join(
        name + ("*" if name == conn.state.hash_algorithm else "") for name in CHECKSUM_ALGORITHMS
    )
    features.append(f"HASH {algorithms}")
    if conn.services.tls is not None:
        features += ["AUTH TLS", "AUTH SSL", "PBSZ", "PROT"]
    return sorted(features)


async def handle_feat(conn: FtpConnection, command: Command) -> Reply:
    del command
    body = "\n".join(" " + line for line in feature_lines(conn))
    return Reply(211, f"Features:\n{body}\nEnd")


async def handle_opts(conn: FtpConnection, command: Command) -> Reply:
    option, _, value = command.argument.strip().partition(" ")
    option = option.upper()
    if option == "UTF8":
        if value.strip().upper() in ("", "ON"):
            return Reply(200, "Always in UTF8 mode.")
        return Reply(501, "UTF8 cannot be turned off: names are always UTF-8.")
    if option == "MLST":
        wanted = {fact.lower() for fact in value.split(";") if fact}
        conn.state.mlst_facts = frozenset(fact for fact in ALL_FACTS if fact in wanted)
        shown = "".join(f"{fact};" for fact in ALL_FACTS if fact in conn.state.mlst_facts)
        return Reply(200, f"MLST OPTS {shown}")
    if option == "HASH":
        if not value.strip():
            return Reply(200, conn.state.hash_algorithm)
        algorithm = value.strip().upper()
        if algorithm not in CHECKSUM_ALGORITHMS:
            return Reply(501, "Unknown algorithm; use one of " + ", ".join(CHECKSUM_ALGORITHMS))
        conn.state.hash_algorithm = algorithm
        return Reply(200, algorithm)
    return Reply(501, "Option not understood.")


async def handle_help(conn: FtpConnection, command: Command) -> Reply:
    del conn
    topic = command.argument.strip().upper()
    if topic:
        spec = COMMANDS.get(topic)
        if spec is None:
            return Reply(502, f"Unknown command {topic}.")
        return Reply(214, spec.help)
    names = sorted(COMMANDS)
    rows = [" " + " ".join(f"{name:<8}" for name in names[i : i + 8]).rstrip()
            for i in range(0, len(names), 8)]
    return Reply(214, "The following commands are recognized.\n" + "\n".join(rows) + "\nHelp OK.")


async def handle_noop(conn: FtpConnection, command: Command) -> Reply:
    del conn, command
    return Reply(200, "NOOP ok.")


async def handle_site(conn: FtpConnection, command: Command) -> Reply:
    verb, _, rest = command.argument.strip().partition(" ")
    verb = verb.upper()
    if verb == "HELP":
        return Reply(214, "CHMOD UMASK HELP")
    if verb == "UMASK":
        if not rest.strip():
            return Reply(200, f"Your current UMASK is 0{conn.session.umask:03o}")
        try:
            umask = int(rest.strip(), 8)
        except ValueError:
            return Reply(501, "Bad UMASK value: use octal such as 022.")
        if not 0 <= umask <= 0o777:
            return Reply(501, "Bad UMASK value: use octal such as 022.")
        conn.session.set_umask(umask)
        return Reply(200, f"UMASK set to 0{umask:03o}")
    if verb == "CHMOD":
        mode_text, _, path = rest.strip().partition(" ")
        if not path:
            return Reply(501, "SITE CHMOD needs a mode and a file name.")
        try:
            mode = int(mode_text, 8)
        except ValueError:
            return Reply(501, "Bad mode: use octal such as 644.")
        if not 0 <= mode <= 0o7777:
            return Reply(501, "Bad mode: use octal such as 644.")
        await conn.session.chmod(path, mode)
        return Reply(200, "SITE CHMOD command ok.")
    return Reply(500, "Unknown SITE command.")


HANDLERS = {
    "USER": handle_user, "PASS": handle_pass, "ACCT": handle_acct, "REIN": handle_rein,
    "QUIT": handle_quit, "AUTH": handle_auth, "PBSZ": handle_pbsz, "PROT": handle_prot,
    "CCC": handle_ccc, "SYST": handle_syst, "FEAT": handle_feat, "OPTS": handle_opts,
    "HELP": handle_help, "NOOP": handle_noop, "SITE": handle_site,
}
