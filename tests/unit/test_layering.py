"""design.md section 5: dependencies point one way. Front ends (ftp, sftp) -> session ->
policy and the protocols of storage, users, audit. ftp and sftp never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ferryd

SOURCE = Path(ferryd.__file__).parent

# package -> the ferryd packages it must never import
FORBIDDEN: dict[str, set[str]] = {
    "ftp": {"ferryd.sftp", "ferryd.accounts"},
    "sftp": {"ferryd.ftp", "ferryd.accounts"},
    "session": {"ferryd.ftp", "ferryd.sftp", "ferryd.accounts"},
    "policy": {"ferryd.ftp", "ferryd.sftp", "ferryd.session", "ferryd.accounts"},
    "accounts": {"ferryd.ftp", "ferryd.sftp", "ferryd.session", "ferryd.storage",
                 "ferryd.audit"},
    "storage": {"ferryd.ftp", "ferryd.sftp", "ferryd.session", "ferryd.users",
                "ferryd.audit"},
    "users": {"ferryd.ftp", "ferryd.sftp", "ferryd.session"},
    "audit": {"ferryd.ftp", "ferryd.sftp", "ferryd.session"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(path: Path) -> str:
    module = module_name(path)
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def imports_in(text: str, package: str) -> set[str]:
    """Every module the source imports, anywhere in it, with relative imports made absolute
    and `from ferryd import ftp` counted as importing ferryd.ftp."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            found.add(origin)
            found.update(f"{origin}.{alias.name}" for alias in node.names)
    return found


def violations(imported: set[str], forbidden: set[str]) -> set[str]:
    return {
        name for name in imported
        if any(name == bad or name.startswith(bad + ".") for bad in forbidden)
    }


def files_of(package: str) -> list[Path]:
    return sorted((SOURCE / package).rglob("*.py"))


CASES = [
    pytest.param(path, package, id=str(path.relative_to(SOURCE)))
    for package in FORBIDDEN
    for path in files_of(package)
]


def test_every_layer_has_modules() -> None:
    for package in FORBIDDEN:
        assert files_of(package), package
    assert len(files_of("ftp")) > 10


@pytest.mark.parametrize(("path", "package"), CASES)
def test_imports_point_one_way(path: Path, package: str) -> None:
    imported = imports_in(path.read_text(), package_of(path))
    assert violations(imported, FORBIDDEN[package]) == set()


def test_the_check_sees_every_form_of_import() -> None:
    text = (
        "import ferryd.ftp.proto.core\n"
        "from ferryd import sftp\n"
        "from ..ftp import handlers\n"
        "from . import paths\n"
        "def later():\n    from ferryd.sftp.server import SftpServer\n"
        "if False:\n    import ferryd.ftpish\n"
    )
    assert package_of(SOURCE / "session" / "paths.py") == "ferryd.session"
    assert package_of(SOURCE / "session" / "__init__.py") == "ferryd.session"
    imported = imports_in(text, "ferryd.session")
    assert "ferryd.session.paths" in imported and "ferryd.ftpish" in imported
    assert violations(imported, FORBIDDEN["session"]) == {
        "ferryd.ftp.proto.core", "ferryd.sftp", "ferryd.ftp", "ferryd.ftp.handlers",
        "ferryd.sftp.server", "ferryd.sftp.server.SftpServer",
    }
