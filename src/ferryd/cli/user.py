"""`ferryd user ...`: manage the virtual users in the configured user database."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import getpass
import os
import secrets
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TextIO, TypeVar

from ferryd.cli.paths import default_data_dir
from ferryd.config import ConfigError, load_config
from ferryd.config.settings import StoreSettings
from ferryd.policy.permissions import Permission, format_permissions, parse_folder_rule
from ferryd.users.model import User
from ferryd.users.public_keys import OpenSshPublicKey, parse_openssh_public_key
from ferryd.users.sqlite import SqliteUserStore, configured_user_store
from ferryd.users.store import (
    InvalidHomeError,
    InvalidPasswordError,
    InvalidPublicKeyError,
    InvalidUserNameError,
    UnknownUserError,
    UserExistsError,
    UserStoreError,
    format_shared_folder,
    parse_shared_folder,
    validate_password,
    validate_user_name,
)

EXIT_OK = 0
EXIT_REFUSED = 1  # the user database said no: user exists, unknown user or key, unavailable
EXIT_USAGE = 2  # the command line, the configuration or the input is wrong

HOME_FOLDER_MODE = 0o750
GENERATED_PASSWORD_BYTES = 18  # 24 URL-safe characters, 144 bits

_T = TypeVar("_T")

_DESCRIPTION = """\
Manage the virtual users in the user database that the configuration names (user_db).

Passwords come from --password-stdin (one line), an interactive prompt when standard input is
a terminal, or --password. Without any of these and without a terminal, add and passwd
generate a strong password and print it once.

Exit status: 0 done; 1 refused (user exists, unknown user or key, database unavailable);
2 bad command line, configuration or input."""


class UsageError(Exception):
    """Bad input found by the CLI itself (e.g. passwords that do not match)."""


_PERMISSION_NAMES = ", ".join(permission.value for permission in Permission)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `user` verb and its sub-verbs; `args.handler` is `run`."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        help="vsftpd.conf-style configuration (default: the embedded default)",
    )
    common.add_argument(
        "-o",
        dest="overrides",
        metavar="NAME=VALUE",
        action="append",
        default=None,
        help="override one config option (repeatable)",
    )
    password_options = argparse.ArgumentParser(add_help=False)
    password_source = password_options.add_mutually_exclusive_group()
    password_source.add_argument(
        "--password-stdin", action="store_true", help="read the password from one stdin line"
    )
    password_source.add_argument(
        "--password",
        metavar="PASSWORD",
        help="the password (visible to other local users in the process list;"
        " prefer --password-stdin)",
    )

    user_parser = subparsers.add_parser(
        "user",
        help="manage virtual users",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    user_parser.set_defaults(handler=run)
    verbs = user_parser.add_subparsers(dest="user_verb", metavar="VERB", required=True)

    add = verbs.add_parser(
        "add", parents=[common, password_options], help="create a user (enabled)"
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument(
        "--home",
        metavar="DIR",
        help="the user's root folder, created (mode 0750) when missing"
        " (default: <data dir>/home/NAME)",
    )

    add.add_argument(
        "--perm", action="append", default=[], metavar="FOLDER=PERMISSIONS",
        help="what the user may do in FOLDER and below, e.g. /=list or /inbox=upload,list "
        f"(repeatable; permissions: {_PERMISSION_NAMES}, all, none)",
    )

    add.add_argument(
        "--folder", action="append", default=[], metavar="/FOLDER=/REAL/PATH",
        help="show the server folder /REAL/PATH as /FOLDER in the user's tree (repeatable); "
        "give several users the same folder to share it",
    )

    folder = verbs.add_parser(
        "folder", parents=[common], help="set a user's shared folders",
        description="Replace the user's shared folders. Each is /FOLDER=/REAL/PATH: the server "
        "folder /REAL/PATH appears as /FOLDER in the user's tree (several users can share one; "
        "moving files between folders is refused: copy instead). Permissions per folder come "
        "from `ferryd user perm`. No folders: remove them all.",
    )
    folder.add_argument("name", metavar="NAME")
    folder.add_argument("folders", nargs="*", metavar="/FOLDER=/REAL/PATH")

    perm = verbs.add_parser(
        "perm", parents=[common], help="set a user's per-folder permissions",
        description="Replace the user's permission rules. Each rule is FOLDER=PERMISSIONS; the "
        "deepest folder containing a path decides. Without a rule for /, the root allows what "
        "the server's options (write_enable, download_enable, ...) allow, which also cap every "
        f"rule. Permissions: {_PERMISSION_NAMES}, all, none. No rules: back to the defaults.",
    )
    perm.add_argument("name", metavar="NAME")
    perm.add_argument("rules", nargs="*", metavar="FOLDER=PERMISSIONS")

    delete = verbs.add_parser("del", parents=[common], help="delete a user (the home folder stays)")
    delete.add_argument("name", metavar="NAME")

    verbs.add_parser("list", parents=[common], help="print every user name, one per line")

    show = verbs.add_parser("show", parents=[common], help="print a user's settings and keys")
    show.add_argument("name", metavar="NAME")

    passwd = verbs.add_parser(
        "passwd", parents=[common, password_options], help="set a user's password"
    )
    passwd.add_argument("name", metavar="NAME")

    for verb, help_text in (("enable", "allow a user to log in"), ("disable", "refuse logins")):
        switch = verbs.add_parser(verb, parents=[common], help=help_text)
        switch.add_argument("name", metavar="NAME")

    key_add = verbs.add_parser(
        "key-add", parents=[common], help="add SSH public keys (OpenSSH authorized_keys lines)"
    )
    key_add.add_argument("name", metavar="NAME")
    key_add.add_argument(
        "key",
        metavar="KEY",
        nargs="*",
        help="one authorized_keys line ('[options] ssh-ed25519 AAAA... comment'), a file of "
        "them, or '-' to read lines from stdin",
    )
    key_add.add_argument(
        "--file", metavar="FILE", help="read key lines from FILE (e.g. ~/.ssh/id_ed25519.pub)"
    )

    key_del = verbs.add_parser("key-del", parents=[common], help="delete one SSH public key")
    key_del.add_argument("name", metavar="NAME")
    key_del.add_argument(
        "key", metavar="FINGERPRINT|NUMBER", help="SHA256 fingerprint or number from `user show`"
    )


def run(args: argparse.Namespace) -> int:
    """Carry out one `ferryd user` sub-verb; returns the exit status."""
    try:
        settings = load_config(args.config, args.overrides or [], data_dir=default_data_dir())
    except ConfigError as exc:
        return _fail(str(exc), EXIT_USAGE)
    verb = _VERBS[args.user_verb]
    try:
        return verb(args, settings.store)
    except (
        UsageError,
        InvalidUserNameError,
        InvalidPasswordError,
        InvalidHomeError,
        InvalidPublicKeyError,
    ) as exc:
        return _fail(str(exc), EXIT_USAGE)
    except UserStoreError as exc:
        return _fail(str(exc), EXIT_REFUSED)
    except OSError as exc:  # e.g. the home folder cannot be created
        location = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{location}{exc.strerror or exc}", EXIT_REFUSED)


# --- sub-verbs --------------------------------------------------------------------------------


def _add_user(args: argparse.Namespace, store_settings: StoreSettings) -> int:
    name: str = args.name
    validate_user_name(name)
    home = os.path.abspath(args.home or os.path.join(store_settings.data_dir, "home", name))

    async def require_new_name(store: SqliteUserStore) -> None:
        if await store.get(name) is not None:
            raise UserExistsError(f"user already exists: {name}")

    _with_store(store_settings, require_new_name)  # before prompting for a password
    password, generated = _new_password(args, name)

    rules = _checked_rules(args.perm)
    folders = _checked_folders(args.folder)

    async def add(store: SqliteUserStore) -> User:
        user = await store.add(name, password, home)
        if rules:
            await store.set_permissions(name, rules)
        if folders:
            await store.set_folders(name, folders)
        return user

    created_home = _create_home_folder(home)
    try:
        user = _with_store(store_settings, add)
    except BaseException:
        if created_home:
            _remove_empty_folder(home)
        raise
    print(f"user {user.name} added, home {user.home}")
    if generated:
        print(f"password: {password}")
    return EXIT_OK


def _delete_user(args: argparse.Namespace, store_settings: StoreSettings) -> int:
    async def delete(store: SqliteUserStore) -> User:
        user = await store.get(args.name)
        if user is None:
            raise UnknownUserError(f"no such user: {args.name}")
        await store.delete(args.name)
        return user

    user = _with_store(store_settings, delete)
    print(f"user {user.name} deleted; home folder {user.home} kept")
    return EXIT_OK


def _list_users(args: argparse.Namespace, store_settings: StoreSettings) -> int:
    async def list_users(store: SqliteUserStore) -> list[User]:
        return await store.list()

    for user in _with_store(store_settings, list_users):
        print(user.name)
    return EXIT_OK


def _show_user(args: argparse.Namespace, store_settings: StoreSettings) -> int:
    async def get(store: SqliteUserStore) -> User:
        user = await store.get(args.name)
        if user is None:
            raise UnknownUserError(f"no such user: {args.name}")
        return user

    print(describe_user(_with_store(store_settings, get)), end="")
    return EXIT_OK


def _set_password(args: argparse.Namespace, store_settings: StoreSettings) -> int:
    async def require_user(store: SqliteUserStore) -> None:
        if await store.get(args.name) is None:
            raise UnknownUserError(f"no such user: {args.name}")

    _with_store(store_settings, require_user)  # before prompting for a password
    password, generated = _new_password(args, args.name)

    async def set_password(store: SqliteUserStore) -> None:
        await store.set_password(args.name, password)

    _with_store(store_settings, set_password)
    print(f"password of user {args.name} changed")
    if generated:
        print(f"password: {password}")
    return EXIT_OK


def _each_checked(texts: list[str], normalise: Callable[[str], str]) -> tuple[str, ...]:
    """Each text normalised; UsageError naming the first bad one."""
    checked: list[str] = []
    for text in texts:
        try:
            checked.append(normalise(text))
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    return tuple(checked)


def _normal_rule(text: str) -> str:
    folder, permissions = parse_folder_rule(text)
    return f"{folder}={format_permissions(permissions)}"


def _normal_folder(text: str) -> str:
    """A missing real folder is worth a warning, not a refusal: it may be mounted later."""
    virtual, real = parse_shared_folder(text)
    if not os.path.isdir(real):
        print(f"ferryd: warning: {real} is not a folder (yet); {virtual} stays empty until it "
              "is", file=sys.stderr)
    return format_shared_folder(virtual, real)


def _checked_rules(texts: list[str]) -> tuple[str, ...]:
    """Normalised `FOLDER=PERMISSIONS` rules."""
    return _each_checked(texts, _normal_rule)


def _checked_folders(texts: list[str]) -> tuple[str, ...]:
    """Normalised `/FOLDER=/REAL/PATH` mappings."""
    return _each_checked(texts, _normal_folder)


def _replace_rules(
    store_settings: StoreSettings, name: str, kind: str, values: tuple[str, ...]
) -> None:
    """Store a user's shared folders (kind "folders") or permission rules ("permissions")."""

    async def save(store: SqliteUserStore) -> None:
        if kind == "folders":
            await store.set_folders(name, values)
        else:
            await store.set_permissions(name, values)

    _with_store(store_settings, save)


def _set_folders(args: argparse.Namespace, store_settings: StoreSettings) -> int:
    folders = _checked_folders(args.folders)
    _replace_rules(store_settings, args.name, "folders", folders)
    print(f"shared folders of {args.name}: {' '.join(folders) or 'none'}")
    return EXIT_OK


def _set_permissions(args: argparse.Namespace, store_settings: StoreSettings) -> int:
    rules = _checked_rules(args.rules)
    _replace_rules(store_settings, args.name, "permissions", rules)
    print(f"permissions of {args.name}: {' '.join(rules) or 'server defaults'}")
    return EXIT_OK


def _set_enabled(args: argparse.Namespace, store_settings: StoreSettings) -> int:
    enabled = args.user_verb == "enable"

    async def set_enabled(store: SqliteUserStore) -> None:
        await store.set_enabled(args.name, enabled)

    _with_store(store_settings, set_enabled)
    print(f"user {args.name} {'enabled' if enabled else 'disabled'}")
    return EXIT_OK


def _add_keys(args: argparse.Namespace, store_settings: StoreSettings) -> int:
    public_keys = _read_public_keys(args)

    async def add_keys(store: SqliteUserStore) -> None:
        for public_key in public_keys:
            await store.add_key(args.name, public_key.line)

    _with_store(store_settings, add_keys)
    for public_key in public_keys:
        print(f"key {public_key.fingerprint} added to user {args.name}")
    return EXIT_OK


def _delete_key(args: argparse.Namespace, store_settings: StoreSettings) -> int:
    selector: str = args.key
    fingerprint_or_index: str | int = int(selector) if selector.isdigit() else selector

    async def delete_key(store: SqliteUserStore) -> None:
        await store.delete_key(args.name, fingerprint_or_index)

    _with_store(store_settings, delete_key)
    print(f"key {selector} deleted from user {args.name}")
    return EXIT_OK


_Verb = Callable[[argparse.Namespace, StoreSettings], int]

_VERBS: dict[str, _Verb] = {
    "add": _add_user,
    "del": _delete_user,
    "list": _list_users,
    "show": _show_user,
    "passwd": _set_password,
    "perm": _set_permissions,
    "folder": _set_folders,
    "enable": _set_enabled,
    "disable": _set_enabled,
    "key-add": _add_keys,
    "key-del": _delete_key,
}


# --- helpers ----------------------------------------------------------------------------------


def describe_user(user: User) -> str:
    """The `user show` text: settings and key fingerprints, never a password hash."""
    created = datetime.datetime.fromtimestamp(user.created, datetime.UTC)
    lines = [
        f"name: {user.name}",
        f"home: {user.home}",
        f"enabled: {'yes' if user.enabled else 'no'}",
        f"created: {created.isoformat(timespec='seconds')}",
    ]
    lines.append(f"permissions: {' '.join(user.permissions) or 'server defaults'}")
    lines.append(f"shared folders: {' '.join(user.folders) or 'none'}")
    if not user.public_keys:
        lines.append("keys: none")
    else:
        lines.append("keys:")
        for number, key_line in enumerate(user.public_keys, start=1):
            try:
                public_key = parse_openssh_public_key(key_line)
            except InvalidPublicKeyError as exc:
                lines.append(f"  {number} (not used for logins: {exc})")
                continue
            comment = f" {public_key.comment}" if public_key.comment else ""
            options = f" [{','.join(public_key.options)}]" if public_key.options else ""
            lines.append(
                f"  {number} {public_key.fingerprint} {public_key.algorithm}{comment}{options}"
            )
    return "\n".join(lines) + "\n"


def read_password(
    args: argparse.Namespace,
    name: str,
    *,
    stdin: TextIO | None,
    prompt: Callable[[str], str] = getpass.getpass,
) -> str | None:
    """The password from --password, --password-stdin or a terminal prompt (asked twice);
    None when there is no source and no terminal, so the caller generates one."""
    password: str
    if args.password is not None:
        password = args.password
    elif args.password_stdin:
        if stdin is None:
            raise UsageError("--password-stdin: there is no standard input")
        password = stdin.readline().removesuffix("\n").removesuffix("\r")
    elif stdin is not None and stdin.isatty():
        try:
            password = prompt(f"Password for {name}: ")
            if prompt(f"Retype password for {name}: ") != password:
                raise UsageError("the passwords do not match")
        except EOFError as exc:
            raise UsageError("no password given") from exc
    else:
        return None
    validate_password(password)
    return password


def generate_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def _new_password(args: argparse.Namespace, name: str) -> tuple[str, bool]:
    """(password, whether it was generated)."""
    password = read_password(args, name, stdin=sys.stdin)
    if password is None:
        return generate_password(), True
    return password, False


def _read_public_keys(args: argparse.Namespace) -> list[OpenSshPublicKey]:
    """Every key line named on the command line, in stdin ('-'), in a file (--file FILE, or
    FILE alone: one word naming a file, as `key-add NAME ~/.ssh/id_ed25519.pub`); at least
    one."""
    if args.file and args.key:
        raise UsageError("give the key on the command line or with --file, not both")
    path = args.file
    if path is None and len(args.key) == 1 and args.key[0] != "-" and os.path.isfile(args.key[0]):
        path = args.key[0]
    if path:
        try:
            with open(path, encoding="utf-8") as key_file:
                text, source = key_file.read(), path
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise UsageError(f"cannot read the key file {path}: {reason}") from exc
    elif args.key == ["-"]:
        text, source = sys.stdin.read() if sys.stdin else "", "stdin"
    elif args.key:
        return [parse_openssh_public_key(" ".join(args.key))]
    else:
        raise UsageError("no key given: pass a key line, '-' for stdin, or --file FILE")
    public_keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            public_keys.append(parse_openssh_public_key(line))
        except InvalidPublicKeyError as exc:
            raise InvalidPublicKeyError(f"{source}:{number}: {exc}") from exc
    if not public_keys:
        raise UsageError(f"no key line in {source}")
    return public_keys


def _create_home_folder(home: str) -> bool:
    """Create `home` (mode 0750) unless it exists; True when this call created it."""
    if os.path.isdir(home):
        return False
    if os.path.lexists(home):
        raise UsageError(f"the home {home} exists and is not a folder")
    os.makedirs(home, mode=HOME_FOLDER_MODE)
    os.chmod(home, HOME_FOLDER_MODE)
    return True


def _remove_empty_folder(folder: str) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(folder)


def _with_store(
    store_settings: StoreSettings, action: Callable[[SqliteUserStore], Coroutine[Any, Any, _T]]
) -> _T:
    """Open the user database, run `action` on it, close it."""

    async def run_and_close() -> _T:
        async with configured_user_store(store_settings) as store:
            return await action(store)

    return asyncio.run(run_and_close())


def _fail(message: str, status: int) -> int:
    print(f"ferryd: {message}", file=sys.stderr)
    return status
