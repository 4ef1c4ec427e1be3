"""docs/nat.md shows only configuration that the NAT tests run: every line of its conf and
HAProxy blocks is a line of the example files test_nat.py serves."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDE = (DOCS / "nat.md").read_text(encoding="utf-8")


def lines_of(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}


def blocks(language: str) -> list[list[str]]:
    """The non-blank lines of each fenced block opened with ```language."""
    found: list[list[str]] = []
    current: list[str] | None = None
    current_language = ""
    for line in GUIDE.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            if current is None:
                current, current_language = [], stripped[3:]
            else:
                if current_language == language:
                    found.append(current)
                current = None
        elif current is not None and stripped:
            current.append(stripped)
    return found


def test_conf_blocks_come_from_the_example_configs() -> None:
    known = lines_of(DOCS / "examples" / "nat.conf") | lines_of(
        DOCS / "examples" / "nat-haproxy.conf")
    conf_blocks = blocks("conf")
    assert len(conf_blocks) >= 3
    for block in conf_blocks:
        assert set(block) <= known, set(block) - known


def test_haproxy_block_comes_from_the_example() -> None:
    haproxy = [block for block in blocks("") if any("send-proxy" in line for line in block)]
    assert haproxy
    assert set(haproxy[0]) <= lines_of(DOCS / "examples" / "haproxy.cfg")


def test_the_guide_links_the_files_the_tests_serve() -> None:
    for name in ("examples/nat.conf", "examples/nat-haproxy.conf", "examples/haproxy.cfg"):
        assert f"({name})" in GUIDE
        assert (DOCS / name).is_file()
