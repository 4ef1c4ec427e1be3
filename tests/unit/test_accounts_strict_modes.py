"""OpenSSH's StrictModes on ~/.ssh/authorized_keys, ~/.ssh and ~ (accounts/strict_modes.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ferryd.accounts.strict_modes import key_file_refusal


def layout(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    keys = home / ".ssh" / "authorized_keys"
    keys.write_text("ssh-ed25519 AAAA test\n")
    for path, mode in ((home, 0o755), (home / ".ssh", 0o700), (keys, 0o600)):
        path.chmod(mode)
    return home, keys


def refusal(keys: Path, home: Path, uid: int | None = None) -> str | None:
    return key_file_refusal(str(keys), keys.stat(), os.getuid() if uid is None else uid,
                            str(home))


def test_a_private_layout_is_trusted(tmp_path: Path) -> None:
    home, keys = layout(tmp_path)
    tmp_path.chmod(0o777)  # above the home: not OpenSSH's business, nor ferryd's
    assert refusal(keys, home) is None


@pytest.mark.parametrize(("where", "mode", "reason"), [
    ("file", 0o620, "file {keys} is writable by its group (mode 0620)"),
    ("file", 0o602, "file {keys} is writable by others (mode 0602)"),
    (".ssh", 0o770, "folder {ssh} is writable by its group (mode 0770)"),
    ("home", 0o757, "folder {home} is writable by others (mode 0757)"),
])
def test_anything_others_may_write_is_refused_with_the_reason(
    tmp_path: Path, where: str, mode: int, reason: str
) -> None:
    home, keys = layout(tmp_path)
    target = {"file": keys, ".ssh": home / ".ssh", "home": home}[where]
    target.chmod(mode)
    assert refusal(keys, home) == reason.format(keys=keys, ssh=home / ".ssh", home=home)


def test_another_owner_and_a_folder_in_place_of_the_file(tmp_path: Path) -> None:
    home, keys = layout(tmp_path)
    uid = os.getuid()
    if uid == 0:  # root's own files pass for any user, as in OpenSSH; not another user's
        os.chown(home / ".ssh", 4242, -1)
        assert refusal(keys, home, uid=4343) == (
            f"folder {home / '.ssh'} belongs to uid 4242, not to the user or root"
        )
    keys.unlink()
    keys.mkdir()
    assert refusal(keys, home) == f"{keys} is not a regular file"


def test_a_symlinked_keys_file_is_judged_where_it_lies(tmp_path: Path) -> None:
    home, keys = layout(tmp_path)
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir(mode=0o777)
    elsewhere.chmod(0o777)
    target = elsewhere / "keys"
    keys.rename(target)
    keys.symlink_to(target)
    assert refusal(keys, home) == f"folder {elsewhere} is writable by its group (mode 0777)"
