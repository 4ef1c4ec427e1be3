"""The one error -> SFTP status table, weak keys and algorithms refused. Pure."""

from __future__ import annotations

import asyncssh
import pytest

from ferryd.session.errors import InvalidPath, PermissionDenied, SessionError
from ferryd.sftp.authorized_keys import authorized_keys, usable_key_lines
from ferryd.sftp.server import algorithm_options
from ferryd.sftp.status import STATUS_BY_ERROR, mapped_errors, sftp_error_for
from ferryd.storage.errors import (
    AccessDenied,
    DirectoryNotEmpty,
    FileBusy,
    IsADirectory,
    NoSpace,
    NotADirectory,
    OutsideRoot,
    PathExists,
    PathNotFound,
    StorageError,
    StorageIOError,
)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (PermissionDenied("/a: upload not permitted"), asyncssh.FX_PERMISSION_DENIED),
        (OutsideRoot("/a: outside the user's root"), asyncssh.FX_PERMISSION_DENIED),
        (AccessDenied("/a: Permission denied"), asyncssh.FX_PERMISSION_DENIED),
        (InvalidPath("NUL byte in path"), asyncssh.FX_INVALID_FILENAME),
        (PathNotFound("/a: No such file or directory"), asyncssh.FX_NO_SUCH_FILE),
        (PathExists("/a: File exists"), asyncssh.FX_FILE_ALREADY_EXISTS),
        (NotADirectory("/a: Not a directory"), asyncssh.FX_NOT_A_DIRECTORY),
        (IsADirectory("/a: Is a directory"), asyncssh.FX_FILE_IS_A_DIRECTORY),
        (DirectoryNotEmpty("/a: Directory not empty"), asyncssh.FX_DIR_NOT_EMPTY),
        (NoSpace("/a: No space left on device"), asyncssh.FX_NO_SPACE_ON_FILESYSTEM),
        (FileBusy("/a: busy"), asyncssh.FX_FAILURE),
        (StorageIOError("/a: Input/output error"), asyncssh.FX_FAILURE),
        (SessionError("something new"), asyncssh.FX_FAILURE),
        (StorageError(""), asyncssh.FX_FAILURE),
    ],
)
def test_each_error_has_its_status_and_keeps_its_text(error: StorageError, code: int) -> None:
    status = sftp_error_for(error)
    assert status.code == code
    assert status.reason == (str(error) or dict(
        (kind, text) for kind, _, text in STATUS_BY_ERROR)[StorageError])


def test_v3_clients_get_failure_for_codes_v3_lacks() -> None:
    encoded = sftp_error_for(NoSpace("/a: full")).encode(3)
    assert int.from_bytes(encoded[:4], "big") == asyncssh.FX_FAILURE
    denied = sftp_error_for(PermissionDenied("/a")).encode(3)
    assert int.from_bytes(denied[:4], "big") == asyncssh.FX_PERMISSION_DENIED


def test_every_storage_error_class_has_a_row() -> None:
    kinds = {kind for kind, _, _ in STATUS_BY_ERROR}
    for cls in (*StorageError.__subclasses__(), *SessionError.__subclasses__()):
        if cls is not SessionError:  # the session's base class: the catch-all row's FAILURE
            assert cls in kinds, f"{cls.__name__} needs a row in STATUS_BY_ERROR"
    assert STATUS_BY_ERROR[-1][0] is StorageError  # the catch-all comes last


def test_mapped_errors_chains_the_cause_and_lets_others_through() -> None:
    with pytest.raises(asyncssh.SFTPNoSuchFile) as caught, mapped_errors():
        raise PathNotFound("/gone: No such file or directory")
    assert isinstance(caught.value.__cause__, PathNotFound)
    with pytest.raises(KeyError), mapped_errors():
        raise KeyError("not a storage error")


def test_weak_keys_and_options_ferryd_cannot_honour_are_dropped_at_login() -> None:
    """Lines a database may hold from before key-add checked them, or written by hand."""
    strong = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    weak = asyncssh.generate_private_key("ssh-rsa", key_size=1024)
    weak_line = weak.export_public_key().decode().strip()
    with_options = f'from="127.0.0.1",no-pty {strong}'
    forced = f'command="/bin/sh" {strong}'
    shouting = f'FROM="10.0.0.0/8" {strong}'  # sshd's names are case-insensitive
    kept = usable_key_lines((strong, weak_line, with_options, forced, shouting, "garbage"))
    assert kept == [strong, with_options, f'from="10.0.0.0/8" {strong}']
    assert authorized_keys(("garbage", weak_line)) is None


def test_a_matching_key_may_not_sign_with_sha1() -> None:
    private = asyncssh.generate_private_key("ssh-rsa", key_size=2048)
    keys = authorized_keys((private.export_public_key().decode(),))
    assert keys is not None
    data = b"session id and request"
    for algorithm, accepted in ((b"rsa-sha2-256", True), (b"ssh-rsa", False)):
        offered = asyncssh.import_public_key(private.export_public_key())
        assert keys.validate(offered, "", "127.0.0.1") is not None
        assert offered.verify(data, private.sign(data, algorithm)) is accepted, algorithm
    elsewhere = asyncssh.import_public_key(private.export_public_key())  # not validated here
    assert elsewhere.verify(data, private.sign(data, b"ssh-rsa"))


def test_no_sha1_md5_or_ssh_rsa_signatures_offered() -> None:
    options = algorithm_options()
    for name, algorithms in options.items():
        assert algorithms, name
        for algorithm in algorithms:
            assert "sha1" not in algorithm and "md5" not in algorithm, algorithm
    assert "ssh-rsa" not in options["signature_algs"]
    assert "rsa-sha2-256" in options["signature_algs"]
    assert "curve25519-sha256" in options["kex_algs"]


def test_a_reason_naming_a_path_that_is_not_utf8_can_be_sent() -> None:
    """A path of raw bytes (surrogates once decoded) must not make the reason unencodable:
    asyncssh encodes reasons as UTF-8, and a failure there dropped the whole connection."""
    name = b"..\xc0\xae/secret.txt".decode("utf-8", "surrogateescape")
    error = sftp_error_for(PathNotFound(f"/{name}: No such file"))
    assert error.reason.encode("utf-8") == "/..\ufffd\ufffd/secret.txt: No such file".encode()
    assert error.code == asyncssh.FX_NO_SUCH_FILE
