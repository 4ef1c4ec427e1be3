"""The input rules every user store enforces, and OpenSSH key line parsing."""

from __future__ import annotations

import asyncssh
import pytest

from ferryd.users.model import User
from ferryd.users.public_keys import normalise_fingerprint, parse_openssh_public_key
from ferryd.users.store import (
    InvalidHomeError,
    InvalidPasswordError,
    InvalidPublicKeyError,
    InvalidUserNameError,
    UserStoreError,
    is_valid_user_name,
    validate_home,
    validate_password,
    validate_user_name,
)


@pytest.mark.parametrize(
    "name", ["a", "Z9", "_", "@", "alice", "a.b", "a-b", "a_b", "bob@example.com", "x" * 64]
)
def test_valid_user_names(name: str) -> None:
    validate_user_name(name)
    assert is_valid_user_name(name)


@pytest.mark.parametrize(
    "name",
    ["", "-a", ".a", "x" * 65, "a b", "a/b", "a\\b", "a:b", "a\n", "\na", "é", "a\0", "a*", "a+b"],
)
def test_invalid_user_names(name: str) -> None:
    with pytest.raises(InvalidUserNameError, match="invalid user name"):
        validate_user_name(name)
    assert not is_valid_user_name(name)


def test_errors_share_one_base_and_invalid_input_is_a_value_error() -> None:
    for error in (InvalidUserNameError, InvalidPasswordError, InvalidHomeError):
        assert issubclass(error, UserStoreError)
        assert issubclass(error, ValueError)


def test_empty_password_is_invalid_and_the_message_holds_no_secret() -> None:
    validate_password(" ")
    with pytest.raises(InvalidPasswordError, match="empty"):
        validate_password("")


@pytest.mark.parametrize(
    ("home", "normalised"),
    [("/srv/a", "/srv/a"), ("/srv//a/./b/", "/srv/a/b"), ("/srv/a/../b", "/srv/b")],
)
def test_valid_homes_are_normalised(home: str, normalised: str) -> None:
    assert validate_home(home) == normalised


@pytest.mark.parametrize("home", ["", "srv", "./srv", "~/srv", "/srv/\0"])
def test_invalid_homes(home: str) -> None:
    with pytest.raises(InvalidHomeError):
        validate_home(home)


def test_user_is_frozen_and_keyword_only() -> None:
    user = User(name="alice", home="/srv/alice", enabled=True, created=1.0)
    assert user.permissions == () and user.public_keys == ()
    with pytest.raises(AttributeError):
        user.name = "bob"  # type: ignore[misc]
    with pytest.raises(TypeError):
        User("alice", "/srv/alice", True, (), (), 1.0)  # type: ignore[call-arg]


@pytest.mark.parametrize("algorithm", ["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"])
def test_parse_openssh_public_key(algorithm: str) -> None:
    key = asyncssh.generate_private_key(algorithm, comment="alice@laptop")
    line = key.export_public_key("openssh").decode()
    parsed = parse_openssh_public_key("  " + line)
    assert parsed.line == line.strip()
    assert parsed.algorithm == algorithm
    assert parsed.comment == "alice@laptop"
    assert parsed.fingerprint == key.get_fingerprint("sha256")
    assert parsed.fingerprint.startswith("SHA256:")


def test_parse_openssh_public_key_without_comment() -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    parsed = parse_openssh_public_key(key.export_public_key("openssh").decode())
    assert parsed.comment == ""
    assert parsed.line.count(" ") == 1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "ssh-ed25519",
        "ssh-ed25519 !!!notbase64",
        "ssh-ed25519 AAAA comment",
        "-----BEGIN PUBLIC KEY-----",
        'from="10.0.0.1" ssh-ed25519 AAAA',
        "no-pty",
    ],
)
def test_invalid_public_key_lines(text: str) -> None:
    with pytest.raises(InvalidPublicKeyError):
        parse_openssh_public_key(text)


def test_a_private_key_is_not_a_public_key() -> None:
    private = asyncssh.generate_private_key("ssh-ed25519").export_private_key("openssh").decode()
    with pytest.raises(InvalidPublicKeyError):
        parse_openssh_public_key(private)


ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK28Z/Ful0UODSnxMCA0TXkr+6eah2YMaVEafTCiisUo"


@pytest.mark.parametrize(
    ("options", "canonical"),
    [
        ('from="10.0.0.0/8,!10.1.2.3"', ('from="10.0.0.0/8,!10.1.2.3"',)),
        ('FROM="*.example.com",No-Pty', ('from="*.example.com"', "no-pty")),
        ("restrict,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc",
         ("restrict", "no-port-forwarding", "no-agent-forwarding", "no-x11-forwarding",
          "no-user-rc")),
        ('from="a b, c"', ('from="a b, c"',)),  # blanks and commas inside quotes
    ],
)
def test_authorized_keys_options_ferryd_honours_are_kept(
    options: str, canonical: tuple[str, ...],
) -> None:
    parsed = parse_openssh_public_key(f"{options} {ED25519} me@there")
    assert parsed.options == canonical
    assert parsed.line == f"{','.join(canonical)} {ED25519} me@there"
    assert parsed.comment == "me@there" and parsed.algorithm == "ssh-ed25519"
    assert parsed.fingerprint == parse_openssh_public_key(ED25519).fingerprint


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ('command="internal-sftp"', "option command= is not supported: ferryd runs no commands"),
        ('environment="A=b"', "option environment= is not supported"),
        ('permitopen="localhost:80"', "option permitopen= is not supported"),
        ('permitlisten="8080"', "option permitlisten= is not supported"),
        ("cert-authority", "option cert-authority is not supported"),
        ('principals="alice"', "option principals= is not supported"),
        ('tunnel="1"', "option tunnel= is not supported"),
        ("restrict,pty", "option pty is not supported"),
        ('expiry-time="20300101"', "option 'expiry-time=\"20300101\"' is not supported"),
        ("from=10.0.0.1", 'option from needs a quoted value: from="..."'),
        ('from="10.0.0.1', "unbalanced quote"),
        ("no-pty=yes", "option 'no-pty=yes' is not supported"),
    ],
)
def test_authorized_keys_options_ferryd_cannot_honour_are_refused(
    options: str, reason: str,
) -> None:
    with pytest.raises(InvalidPublicKeyError) as refused:
        parse_openssh_public_key(f"{options} {ED25519}")
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    ("algorithm", "size", "reason"),
    [("ssh-dss", None, "ssh-dss (DSA) keys are too weak"),
     ("ssh-rsa", 1024, "a 1024-bit RSA key is too weak: at least 2048 bits")],
)
def test_weak_keys_are_refused(algorithm: str, size: int | None, reason: str) -> None:
    options = {"key_size": size} if size else {}
    key = asyncssh.generate_private_key(algorithm, **options)
    with pytest.raises(InvalidPublicKeyError, match=r"too weak") as refused:
        parse_openssh_public_key(key.export_public_key().decode())
    assert reason in str(refused.value)


@pytest.mark.parametrize("given", ["SHA256:abc", "abc", "sha256:abc", "  SHA256:abc\n"])
def test_normalise_fingerprint(given: str) -> None:
    assert normalise_fingerprint(given) == "SHA256:abc"
