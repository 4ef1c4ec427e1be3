"""atheris target: the vsftpd.conf parser and settings (ferryd.config) on arbitrary text.

    python3 -m pip install "atheris>=2.3,<3"        # or: pip install ".[fuzz]"
    PYTHONPATH=$PWD/src:$PWD python3 fuzz/config_parser.py -max_total_time=3600

Any text either parses into settings or raises a ConfigError naming fuzz.conf and a line in
it; any other exception is a finding (tests/unit/test_fuzz_config.py is the bounded twin).
"""

from __future__ import annotations

from ferryd.config import ConfigError
from ferryd.config.parser import parse_config_text
from ferryd.config.validation import check_combinations
from fuzz import run


def check(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        parsed = parse_config_text(text, "fuzz.conf")
    except ConfigError as error:
        lines = max(1, text.count("\n") + 1)
        for problem in error.errors:
            assert problem.source == "fuzz.conf", problem
            assert problem.line is None or 1 <= problem.line <= lines, problem
            assert str(problem)
        return
    for problem in check_combinations(parsed):
        assert str(problem)


def main() -> None:
    run(check)


if __name__ == "__main__":
    main()
