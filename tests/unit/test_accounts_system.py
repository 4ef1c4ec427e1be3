"""vsftpd's jail decisions for system users, and the user lists: pure rules, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryd.accounts.system import (
    Jail,
    JailError,
    SystemAccountRules,
    check_jail,
    jail_for,
    read_name_list,
    shell_allowed,
)
from ferryd.users.model import SystemIdentity, User


def rules(**changes: object) -> SystemAccountRules:
    base: dict[str, object] = {
        "pam_service_name": "ftp", "check_shell": True, "chroot_local_user": False,
        "chroot_list": None, "passwd_chroot_enable": False, "local_root": None,
        "user_sub_token": None, "allow_writeable_chroot": False,
    }
    base.update(changes)
    return SystemAccountRules(**base)  # type: ignore[arg-type]


def user(name: str = "alice", home: str = "/home/alice") -> User:
    return User(name=name, home=home, enabled=True, created=0.0)


@pytest.mark.parametrize(
    ("changes", "name", "home", "expected"),
    [
        ({}, "alice", "/home/alice", Jail("/", "/home/alice", False)),
        ({"chroot_local_user": True}, "alice", "/home/alice", Jail("/home/alice", "/", True)),
        # chroot_list inverts chroot_local_user for the names it lists, both ways
        ({"chroot_list": frozenset({"alice"})}, "alice", "/home/alice",
         Jail("/home/alice", "/", True)),
        ({"chroot_local_user": True, "chroot_list": frozenset({"alice"})}, "alice",
         "/home/alice", Jail("/", "/home/alice", False)),
        ({"chroot_local_user": True, "chroot_list": frozenset({"bob"})}, "alice",
         "/home/alice", Jail("/home/alice", "/", True)),
        # passwd_chroot_enable: the jail ends at /./, the rest is where the session starts
        ({"chroot_local_user": True, "passwd_chroot_enable": True}, "alice",
         "/srv/ftp/./alice/in", Jail("/srv/ftp", "/alice/in", True)),
        ({"chroot_local_user": True}, "alice", "/srv/ftp/./alice",
         Jail("/srv/ftp/alice", "/", True)),
        ({"chroot_local_user": False, "passwd_chroot_enable": True}, "alice",
         "/srv/ftp/./alice", Jail("/", "/srv/ftp/alice", False)),
        # local_root, with user_sub_token replaced by the name
        ({"chroot_local_user": True, "local_root": "/srv/$USER/files",
          "user_sub_token": "$USER"}, "bob", "/home/bob", Jail("/srv/bob/files", "/", True)),
        ({"local_root": "/srv/shared"}, "bob", "/home/bob", Jail("/", "/srv/shared", False)),
    ],
)
def test_jail_for(changes: dict[str, object], name: str, home: str, expected: Jail) -> None:
    assert jail_for(user(name, home), rules(**changes)) == expected


def test_check_jail_refuses_a_root_the_user_can_write(tmp_path: Path) -> None:
    identity = SystemIdentity(uid=4242, gid=4242, groups=(4343,))
    tmp_path.chmod(0o777)
    with pytest.raises(JailError, match="allow_writeable_chroot"):
        check_jail(Jail(str(tmp_path), "/", True), identity, allow_writeable=False)
    check_jail(Jail(str(tmp_path), "/", True), identity, allow_writeable=True)
    tmp_path.chmod(0o755)  # owned by the test's user, not uid 4242: not writable for it
    check_jail(Jail(str(tmp_path), "/", True), identity, allow_writeable=False)
    with pytest.raises(JailError, match="No such file"):
        check_jail(Jail(str(tmp_path / "gone"), "/", True), identity, allow_writeable=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(JailError, match="not a folder"):
        check_jail(Jail(str(tmp_path / "file"), "/", True), identity, allow_writeable=True)


def test_name_lists_and_shells(tmp_path: Path) -> None:
    listed = tmp_path / "list"
    listed.write_text("# comment\nalice\n\n  bob  \n")
    assert read_name_list(str(listed)) == frozenset({"alice", "bob"})
    shells = tmp_path / "shells"
    shells.write_text("/bin/sh\n/bin/bash\n")
    assert shell_allowed("/bin/bash", str(shells))
    assert not shell_allowed("/usr/sbin/nologin", str(shells))
    assert not shell_allowed("/bin/sh", str(tmp_path / "missing"))
