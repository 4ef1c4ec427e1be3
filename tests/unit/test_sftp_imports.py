"""design.md section 5: `ftp` and `sftp` never import each other; the SFTP front end reaches
storage only through the session layer's protocols (no local disk, no OS paths)."""

from __future__ import annotations

import ast
from pathlib import Path

import ferryd

PACKAGE = Path(ferryd.__file__).parent


def imported_modules(folder: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        found[str(path.relative_to(PACKAGE))] = names
    return found


def test_sftp_does_not_import_ftp_nor_local_storage() -> None:
    for module, names in imported_modules(PACKAGE / "sftp").items():
        for name in names:
            assert not name.startswith("ferryd.ftp"), (module, name)
            assert name != "ferryd.storage.local", (module, name)
            assert not name.startswith("ferryd.app"), (module, name)


def test_ftp_does_not_import_sftp() -> None:
    for module, names in imported_modules(PACKAGE / "ftp").items():
        assert not any(name.startswith("ferryd.sftp") for name in names), module
