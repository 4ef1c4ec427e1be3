"""The pure parts of `ferryd user`: password sources, `user show` text, the data folder."""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Callable
from pathlib import Path

import asyncssh
import pytest

from ferryd.cli.paths import default_data_dir
from ferryd.cli.user import (
    UsageError,
    add_parser,
    describe_user,
    generate_password,
    read_password,
    run,
)
from ferryd.users.model import User
from ferryd.users.store import InvalidPasswordError


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ferryd")
    add_parser(parser.add_subparsers(dest="verb", required=True))
    return parser.parse_args(argv)


def answers(*replies: str) -> tuple[list[str], Callable[[str], str]]:
    prompts: list[str] = []
    pending = list(replies)

    def prompt(text: str) -> str:
        prompts.append(text)
        return pending.pop(0)

    return prompts, prompt


def test_every_sub_verb_takes_config_and_overrides_and_dispatches_to_run() -> None:
    for argv in (
        ["add", "alice"],
        ["del", "alice"],
        ["list"],
        ["show", "alice"],
        ["passwd", "alice"],
        ["enable", "alice"],
        ["disable", "alice"],
        ["key-add", "alice", "-"],
        ["key-del", "alice", "1"],
    ):
        args = parse("user", *argv, "--config", "f.conf", "-o", "a=1", "-o", "b=2")
        assert args.handler is run
        assert args.user_verb == argv[0]
        assert args.config == "f.conf"
        assert args.overrides == ["a=1", "b=2"]


def test_password_options_are_exclusive() -> None:
    with pytest.raises(SystemExit):
        parse("user", "add", "alice", "--password", "x", "--password-stdin")


def test_password_from_the_option() -> None:
    args = parse("user", "add", "alice", "--password", "pw")
    assert read_password(args, "alice", stdin=FakeTerminal()) == "pw"


def test_password_from_stdin_is_one_line_without_its_end() -> None:
    args = parse("user", "add", "alice", "--password-stdin")
    assert read_password(args, "alice", stdin=io.StringIO(" pw \r\nnext\n")) == " pw "
    with pytest.raises(InvalidPasswordError):
        read_password(args, "alice", stdin=io.StringIO(""))
    with pytest.raises(UsageError):
        read_password(args, "alice", stdin=None)


def test_password_from_a_terminal_is_asked_twice() -> None:
    args = parse("user", "passwd", "alice")
    prompts, prompt = answers("pw", "pw")
    assert read_password(args, "alice", stdin=FakeTerminal(), prompt=prompt) == "pw"
    assert prompts == ["Password for alice: ", "Retype password for alice: "]


def test_different_answers_on_a_terminal_are_refused() -> None:
    args = parse("user", "passwd", "alice")
    _, prompt = answers("pw", "wp")
    with pytest.raises(UsageError, match="do not match"):
        read_password(args, "alice", stdin=FakeTerminal(), prompt=prompt)


def test_no_source_and_no_terminal_means_generate() -> None:
    args = parse("user", "add", "alice")
    assert read_password(args, "alice", stdin=io.StringIO("ignored\n")) is None
    assert read_password(args, "alice", stdin=None) is None
    passwords = {generate_password() for _ in range(20)}
    assert len(passwords) == 20 and all(len(password) >= 24 for password in passwords)


def test_describe_user_shows_fingerprints_and_no_secret() -> None:
    key = asyncssh.generate_private_key("ssh-ed25519", comment="laptop")
    key_line = key.export_public_key("openssh").decode().strip()
    user = User(
        name="alice",
        home="/srv/alice",
        enabled=False,
        public_keys=(key_line, "garbage"),
        created=0.0,
    )
    assert describe_user(user) == (
        "name: alice\n"
        "home: /srv/alice\n"
        "enabled: no\n"
        "created: 1970-01-01T00:00:00+00:00\n"
        "permissions: server defaults\n"
        "shared folders: none\n"
        "keys:\n"
        f"  1 {key.get_fingerprint('sha256')} ssh-ed25519 laptop\n"
        "  2 (not used for logins: no public key found: expected '[options] ssh-ed25519 AAAA..."
        " comment')\n"
    )


def test_describe_user_shows_key_options() -> None:
    key_line = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    user = User(name="alice", home="/h", enabled=True, created=0.0,
                public_keys=(f'from="10.0.0.0/8",no-pty {key_line}',))
    assert ' ssh-ed25519 [from="10.0.0.0/8",no-pty]\n' in describe_user(user)


def test_describe_user_shows_permission_rules() -> None:
    user = User(name="producer", home="/h", enabled=True, created=0.0,
                permissions=("/=upload", "/archive=none"))
    assert "permissions: /=upload /archive=none\n" in describe_user(user)


def test_describe_user_shows_shared_folders() -> None:
    user = User(name="consumer", home="/h", enabled=True, created=0.0,
                folders=("/inbox=/srv/exchange/inbox",))
    assert "shared folders: /inbox=/srv/exchange/inbox\n" in describe_user(user)


def test_describe_user_without_keys() -> None:
    user = User(name="bob", home="/h", enabled=True, created=0.0)
    assert describe_user(user).endswith(
        "enabled: yes\ncreated: 1970-01-01T00:00:00+00:00\npermissions: server defaults\n"
        "shared folders: none\nkeys: none\n"
    )


def test_default_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_data_dir({}) == str(tmp_path / "ferryd-data")
    assert default_data_dir({"FERRYD_HOME": ""}) == str(tmp_path / "ferryd-data")
    assert default_data_dir({"FERRYD_HOME": "relative"}) == str(tmp_path / "relative")
    assert default_data_dir({"FERRYD_HOME": "/srv/ferryd"}) == "/srv/ferryd"
    monkeypatch.setenv("FERRYD_HOME", "/from/environment")
    assert default_data_dir() == "/from/environment"
    assert os.path.isabs(default_data_dir({"FERRYD_HOME": "~/x"}))
