"""The README keeps its promises: two set-up commands that exist, and current option tables."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from ferryd.config.document import render_options_markdown, render_readme_block

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_first_screen_has_exactly_two_setup_commands() -> None:
    first_screen = README.split("\n---\n", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", first_screen, flags=re.S)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert [command.split("#")[0].strip() for command in commands] == [
        "pip install . && ferryd serve",
        "scripts/run-tests",
    ]


def test_the_commands_exist() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["ferryd"] == "ferryd.cli:main"
    script = ROOT / "scripts" / "run-tests"
    assert os.access(script, os.X_OK)
    assert "scripts/run-tests" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_option_tables_are_current() -> None:
    assert render_readme_block() in README
    assert (ROOT / "docs" / "options.md").read_text(encoding="utf-8") == render_options_markdown()
