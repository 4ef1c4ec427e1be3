"""`ferryd user ...` run as a real process on real folders, with FERRYD_HOME set."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import select
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
import pytest

import ferryd.cli
from ferryd.config import load_config
from ferryd.users.model import User
from ferryd.users.sqlite import open_user_store

# Builds a parser the way `ferryd.cli.main` does and dispatches to the `user` handler.
DRIVER = """
import argparse, sys
from ferryd.cli.user import add_parser
parser = argparse.ArgumentParser(prog="ferryd")
add_parser(parser.add_subparsers(dest="verb", required=True))
args = parser.parse_args()
sys.exit(args.handler(args))
"""

PASSWORD = "Tr1cky pass/word"
TERMINAL_TIMEOUT_SECONDS = 60


class Cli:
    """Runs `ferryd user` in `folder` with FERRYD_HOME=`folder`/ferryd-home."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data_dir = folder / "ferryd-home"
        self.environment = {**os.environ, "FERRYD_HOME": str(self.data_dir)}

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-c", DRIVER, "user", *args]

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            input=stdin,
            capture_output=True,
            text=True,
            cwd=self.folder,
            env=self.environment,
            timeout=TERMINAL_TIMEOUT_SECONDS,
            check=False,
        )

    def ok(self, *args: str, stdin: str = "") -> str:
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        return result.stdout

    @property
    def database(self) -> Path:
        return Path(load_config(None, [], data_dir=str(self.data_dir)).store.user_db)

    def login(self, name: str, password: str, database: Path | None = None) -> User | None:
        async def authenticate() -> User | None:
            async with open_user_store(str(database or self.database)) as store:
                return await store.authenticate(name, password)

        return asyncio.run(authenticate())

    def get(self, name: str) -> User | None:
        async def get() -> User | None:
            async with open_user_store(str(self.database)) as store:
                return await store.get(name)

        return asyncio.run(get())


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def public_key_line(comment: str) -> str:
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    return key.export_public_key("openssh").decode().strip()


def fingerprint_of(key_line: str) -> str:
    return asyncssh.import_public_key(key_line).get_fingerprint("sha256")


# --- add --------------------------------------------------------------------------------------


def test_add_with_password_stdin_creates_a_user_with_a_private_home(cli: Cli) -> None:
    output = cli.ok("add", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    home = cli.data_dir / "home" / "alice"
    assert output == f"user alice added, home {home}\n"
    assert home.is_dir() and mode_of(home) == 0o750
    assert mode_of(cli.database) == 0o600
    user = cli.login("alice", PASSWORD)
    assert user is not None and user.home == str(home) and user.enabled
    assert cli.login("alice", PASSWORD + "\n") is None


def test_password_stdin_takes_one_line_without_its_line_end(cli: Cli) -> None:
    cli.ok("add", "alice", "--password-stdin", stdin=PASSWORD + "\r\nsecond line\n")
    assert cli.login("alice", PASSWORD) is not None


def test_add_without_password_or_terminal_prints_a_generated_password_once(cli: Cli) -> None:
    output = cli.ok("add", "alice")
    generated = re.findall(r"^password: (\S+)$", output, re.MULTILINE)
    assert len(generated) == 1 and len(generated[0]) >= 20
    assert output.count(generated[0]) == 1
    assert cli.login("alice", generated[0]) is not None
    second = re.findall(r"^password: (\S+)$", cli.ok("add", "bob"), re.MULTILINE)
    assert second != generated


def test_add_with_password_option_and_a_relative_home(cli: Cli) -> None:
    output = cli.ok("add", "alice", "--password", PASSWORD, "--home", "exchange/alice")
    home = cli.folder / "exchange" / "alice"
    assert output == f"user alice added, home {home}\n"
    assert mode_of(home) == 0o750
    user = cli.login("alice", PASSWORD)
    assert user is not None and user.home == str(home)


def test_add_keeps_an_existing_home_as_it_is(cli: Cli) -> None:
    home = cli.folder / "existing"
    home.mkdir(mode=0o700)
    (home / "file.txt").write_text("kept")
    cli.ok("add", "alice", "--password", PASSWORD, "--home", str(home))
    assert mode_of(home) == 0o700
    assert (home / "file.txt").read_text() == "kept"


def test_add_of_an_existing_user_exits_1_and_changes_nothing(cli: Cli) -> None:
    cli.ok("add", "alice", "--password-stdin", stdin=PASSWORD)
    result = cli.run("add", "alice", "--password", "other", "--home", "elsewhere")
    assert result.returncode == 1
    assert result.stderr == "ferryd: user already exists: alice\n"
    assert not (cli.folder / "elsewhere").exists()
    assert cli.login("alice", PASSWORD) is not None


@pytest.mark.parametrize("name", [".hidden", "a b", "al/ice", "x" * 65, "ünï"])
def test_add_of_an_invalid_name_exits_2_and_creates_nothing(cli: Cli, name: str) -> None:
    result = cli.run("add", name, "--password", PASSWORD)
    assert result.returncode == 2
    assert result.stderr.startswith("ferryd: invalid user name")
    assert not (cli.data_dir / "home").exists()


def test_add_of_an_empty_password_exits_2(cli: Cli) -> None:
    result = cli.run("add", "alice", "--password-stdin", stdin="\n")
    assert (result.returncode, result.stderr) == (2, "ferryd: the password must not be empty\n")
    assert cli.get("alice") is None
    assert not (cli.data_dir / "home" / "alice").exists()


def test_a_home_that_cannot_be_created_exits_1(cli: Cli) -> None:
    (cli.folder / "plain-file").write_text("")
    result = cli.run("add", "alice", "--password", PASSWORD, "--home", "plain-file/alice")
    assert result.returncode == 1
    assert result.stderr.startswith("ferryd: ") and "plain-file" in result.stderr
    assert cli.get("alice") is None


def test_a_home_that_is_a_file_exits_2(cli: Cli) -> None:
    (cli.folder / "plain-file").write_text("")
    result = cli.run("add", "alice", "--password", PASSWORD, "--home", "plain-file")
    assert result.returncode == 2
    assert "is not a folder" in result.stderr
    assert cli.get("alice") is None


# --- list, show, del ----------------------------------------------------------------------------


def test_list_prints_one_name_per_line(cli: Cli) -> None:
    assert cli.ok("list") == ""
    for name in ("carol", "alice", "bob"):
        cli.ok("add", name, "--password", PASSWORD)
    assert cli.ok("list") == "alice\nbob\ncarol\n"


def test_show_prints_the_settings_and_key_fingerprints_but_no_hash(cli: Cli) -> None:
    cli.ok("add", "alice", "--password-stdin", stdin=PASSWORD)
    key_line = public_key_line("alice@laptop")
    cli.ok("key-add", "alice", key_line)
    output = cli.ok("show", "alice")
    lines = output.splitlines()
    assert lines[:3] == [
        "name: alice",
        f"home: {cli.data_dir / 'home' / 'alice'}",
        "enabled: yes",
    ]
    assert re.fullmatch(r"created: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", lines[3])
    assert lines[4:] == [
        "permissions: server defaults",
        "shared folders: none",
        "keys:",
        f"  1 {fingerprint_of(key_line)} ssh-ed25519 alice@laptop",
    ]
    assert "argon2" not in output and PASSWORD not in output


def test_del_removes_the_user_and_keeps_the_home(cli: Cli) -> None:
    cli.ok("add", "alice", "--password", PASSWORD)
    home = cli.data_dir / "home" / "alice"
    (home / "report.csv").write_text("data")
    assert cli.ok("del", "alice") == f"user alice deleted; home folder {home} kept\n"
    assert cli.ok("list") == ""
    assert cli.login("alice", PASSWORD) is None
    assert (home / "report.csv").read_text() == "data"


@pytest.mark.parametrize(
    "args",
    [
        ("del", "nobody"),
        ("show", "nobody"),
        ("passwd", "nobody", "--password", "x"),
        ("enable", "nobody"),
        ("disable", "nobody"),
        ("key-del", "nobody", "1"),
    ],
)
def test_verbs_on_an_unknown_user_exit_1(cli: Cli, args: tuple[str, ...]) -> None:
    result = cli.run(*args)
    assert (result.returncode, result.stderr) == (1, "ferryd: no such user: nobody\n")


# --- passwd, enable, disable --------------------------------------------------------------------


def test_passwd_from_stdin_replaces_the_password(cli: Cli) -> None:
    cli.ok("add", "alice", "--password", "old-password")
    assert cli.ok("passwd", "alice", "--password-stdin", stdin=PASSWORD + "\n") == (
        "password of user alice changed\n"
    )
    assert cli.login("alice", "old-password") is None
    assert cli.login("alice", PASSWORD) is not None


def test_passwd_without_a_source_or_terminal_generates_one(cli: Cli) -> None:
    cli.ok("add", "alice", "--password", "old-password")
    generated = re.findall(r"^password: (\S+)$", cli.ok("passwd", "alice"), re.MULTILINE)
    assert len(generated) == 1
    assert cli.login("alice", generated[0]) is not None


def test_disable_refuses_logins_until_enable(cli: Cli) -> None:
    cli.ok("add", "alice", "--password", PASSWORD)
    assert cli.ok("disable", "alice") == "user alice disabled\n"
    assert "enabled: no" in cli.ok("show", "alice")
    assert cli.login("alice", PASSWORD) is None
    assert cli.ok("enable", "alice") == "user alice enabled\n"
    assert cli.login("alice", PASSWORD) is not None


# --- keys -------------------------------------------------------------------------------------


def test_key_add_from_the_line_a_file_or_stdin_and_key_del(cli: Cli) -> None:
    cli.ok("add", "alice", "--password", PASSWORD)
    keys = [public_key_line(f"key{number}") for number in range(4)]
    key_file = cli.folder / "keys.pub"
    key_file.write_text(f"# my keys\n{keys[1]}\n\n{keys[2]}\n")

    cli.ok("key-add", "alice", *keys[0].split(" "))  # unquoted words are joined
    output = cli.ok("key-add", "alice", "--file", str(key_file))
    assert output.splitlines() == [
        f"key {fingerprint_of(keys[1])} added to user alice",
        f"key {fingerprint_of(keys[2])} added to user alice",
    ]
    cli.ok("key-add", "alice", "-", stdin=keys[3] + "\n")
    user = cli.get("alice")
    assert user is not None and list(user.public_keys) == keys

    cli.ok("key-del", "alice", fingerprint_of(keys[2]))
    assert cli.ok("key-del", "alice", "1") == "key 1 deleted from user alice\n"
    user = cli.get("alice")
    assert user is not None and list(user.public_keys) == [keys[1], keys[3]]


def test_key_add_refusals(cli: Cli) -> None:
    cli.ok("add", "alice", "--password", PASSWORD)
    key_line = public_key_line("laptop")
    cli.ok("key-add", "alice", key_line)

    again = cli.run("key-add", "alice", key_line)
    assert again.returncode == 1 and "already has key" in again.stderr
    invalid = cli.run("key-add", "alice", "ssh-ed25519", "AAAAnot-a-key")
    assert invalid.returncode == 2 and "not a valid OpenSSH public key" in invalid.stderr
    (cli.folder / "bad.pub").write_text(f"{public_key_line('ok')}\ngarbage\n")
    bad_file = cli.run("key-add", "alice", "--file", "bad.pub")
    assert bad_file.returncode == 2 and "bad.pub:2:" in bad_file.stderr
    missing = cli.run("key-add", "alice", "--file", "missing.pub")
    assert missing.returncode == 2 and "cannot read the key file missing.pub" in missing.stderr
    nothing = cli.run("key-add", "alice")
    assert nothing.returncode == 2 and "no key given" in nothing.stderr
    unknown = cli.run("key-add", "nobody", key_line)
    assert (unknown.returncode, unknown.stderr) == (1, "ferryd: no such user: nobody\n")
    user = cli.get("alice")
    assert user is not None and user.public_keys == (key_line,)  # bad.pub added nothing


def test_key_del_of_a_key_that_is_not_there_exits_1(cli: Cli) -> None:
    cli.ok("add", "alice", "--password", PASSWORD)
    result = cli.run("key-del", "alice", "2")
    assert (result.returncode, result.stderr) == (1, "ferryd: user alice has no keys\n")


# --- configuration ----------------------------------------------------------------------------


def test_an_unknown_override_exits_2(cli: Cli) -> None:
    result = cli.run("list", "-o", "no_such_option=1")
    assert result.returncode == 2
    assert result.stderr.startswith("ferryd: ") and "no_such_option" in result.stderr


def test_a_missing_config_file_exits_2(cli: Cli) -> None:
    result = cli.run("list", "--config", str(cli.folder / "missing.conf"))
    assert result.returncode == 2
    assert result.stderr.startswith("ferryd: ") and "missing.conf" in result.stderr


def test_user_db_override_chooses_the_database(cli: Cli) -> None:
    database = cli.folder / "elsewhere" / "people.db"
    cli.ok("add", "alice", "--password", PASSWORD, "-o", f"user_db={database}")
    assert mode_of(database) == 0o600
    assert mode_of(database.parent) == 0o700
    assert cli.login("alice", PASSWORD, database) is not None
    assert cli.ok("list", "-o", f"user_db={database}") == "alice\n"
    assert cli.ok("list") == ""  # the default database is another one


def test_a_config_file_chooses_the_database(cli: Cli) -> None:
    database = cli.folder / "from-config.db"
    config = cli.folder / "ferryd.conf"
    config.write_text(f"# test\nuser_db={database}\n")
    cli.ok("add", "alice", "--password", PASSWORD, "--config", str(config))
    assert cli.login("alice", PASSWORD, database) is not None


def test_user_verb_without_a_sub_verb_exits_2(cli: Cli) -> None:
    result = cli.run()
    assert result.returncode == 2 and "usage:" in result.stderr


def test_the_password_never_reaches_the_database_file_in_clear(cli: Cli) -> None:
    cli.ok("add", "alice", "--password-stdin", stdin=PASSWORD)
    cli.ok("passwd", "alice", "--password-stdin", stdin=PASSWORD + "2")
    for path in cli.database.parent.iterdir():
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes()
    connection = sqlite3.connect(cli.database)
    try:
        [(stored,)] = connection.execute("SELECT password_hash FROM users").fetchall()
    finally:
        connection.close()
    assert stored.startswith("$argon2id$")


def stored_password_hash(database: Path) -> str:
    connection = sqlite3.connect(database)
    try:
        [(stored,)] = connection.execute("SELECT password_hash FROM users").fetchall()
    finally:
        connection.close()
    assert isinstance(stored, str)
    return stored


def test_the_configured_argon2_cost_makes_the_hash(cli: Cli) -> None:
    config = cli.folder / "ferryd.conf"
    config.write_text("argon2_time_cost=2\nargon2_memory_cost=19456\nargon2_parallelism=1\n")
    cli.ok("add", "alice", "--config", str(config), "--password-stdin", stdin=PASSWORD)
    assert stored_password_hash(cli.database).startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert cli.login("alice", PASSWORD) is not None
    assert cli.login("alice", PASSWORD + "x") is None


def test_a_cost_below_owasp_is_refused_naming_the_line(cli: Cli) -> None:
    config = cli.folder / "ferryd.conf"
    config.write_text("argon2_memory_cost=7168\n")
    result = cli.run("add", "alice", "--config", str(config), "--password-stdin", stdin=PASSWORD)
    assert result.returncode == 2
    assert f"{config}:1: argon2_memory_cost=7168 with argon2_time_cost=3 (the default) is " \
           "weaker than OWASP's least argon2id cost" in result.stderr
    assert not cli.database.exists()


# --- on a terminal ----------------------------------------------------------------------------


def run_on_terminal(cli: Cli, args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run `ferryd user ARGS` with a pseudo-terminal as its controlling terminal, answering
    each password prompt in turn; returns the exit status and everything shown."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child
        try:
            os.chdir(cli.folder)
            os.execve(sys.executable, cli.command(*args), cli.environment)
        finally:
            os._exit(127)
    shown = b""
    shown_when_answered = 0
    deadline = time.monotonic() + TERMINAL_TIMEOUT_SECONDS
    try:
        pending_answers = list(answers)
        while time.monotonic() < deadline:
            readable, _, _ = select.select([terminal], [], [], deadline - time.monotonic())
            if not readable:
                break
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if pending_answers and shown[shown_when_answered:].strip().endswith(b":"):
                os.write(terminal, pending_answers.pop(0).encode() + b"\n")
                shown_when_answered = len(shown)
    finally:
        os.close(terminal)
        _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status), shown.decode(errors="replace")


def test_add_on_a_terminal_asks_for_the_password_twice(cli: Cli) -> None:
    status, shown = run_on_terminal(cli, ["add", "alice"], [PASSWORD, PASSWORD])
    assert status == 0, shown
    assert "Password for alice:" in shown and "Retype password for alice:" in shown
    assert PASSWORD not in shown  # no echo
    assert "password: " not in shown  # nothing generated
    assert cli.login("alice", PASSWORD) is not None


def test_add_on_a_terminal_with_different_answers_exits_2(cli: Cli) -> None:
    status, shown = run_on_terminal(cli, ["add", "alice"], [PASSWORD, PASSWORD + "x"])
    assert status == 2, shown
    assert "ferryd: the passwords do not match" in shown
    assert cli.get("alice") is None


def test_passwd_on_a_terminal(cli: Cli) -> None:
    cli.ok("add", "alice", "--password", "old-password")
    status, shown = run_on_terminal(cli, ["passwd", "alice"], [PASSWORD, PASSWORD])
    assert status == 0, shown
    assert cli.login("alice", PASSWORD) is not None


# --- the installed console script ---------------------------------------------------------------


def ferryd_script() -> str | None:
    beside_python = Path(sys.executable).with_name("ferryd")
    return str(beside_python) if beside_python.exists() else shutil.which("ferryd")


@pytest.mark.skipif(
    not hasattr(ferryd.cli, "main") or ferryd_script() is None,
    reason="the ferryd console script (ferryd.cli.main) does not exist yet",
)
def test_the_ferryd_console_script_runs_user_verbs(cli: Cli) -> None:
    script = ferryd_script()
    assert script is not None

    def ferryd(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [script, "user", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cli.folder,
            env=cli.environment,
            timeout=TERMINAL_TIMEOUT_SECONDS,
            check=False,
        )

    added = ferryd("add", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    listed = ferryd("list")
    assert (listed.returncode, listed.stdout) == (0, "alice\n")
    assert cli.login("alice", PASSWORD) is not None
    duplicate = ferryd("add", "alice", "--password", "x")
    assert duplicate.returncode == 1
