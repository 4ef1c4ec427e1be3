"""ConfigError: every problem found in a configuration, each with its file, line and option."""

from __future__ import annotations

from collections.abc import Sequence

OVERRIDE_SOURCE = "-o"
"""The source name of command-line overrides (-oNAME=VALUE)."""

EMBEDDED_SOURCE = "<embedded>"
"""The source name of the embedded default configuration."""


def format_location(source: str, line: int | None, override: str | None) -> str:
    """`file:line`, `file`, or `-o 'NAME=VALUE'`."""
    if override is not None:
        return f"{source} {override!r}"
    if line is not None:
        return f"{source}:{line}"
    return source


class ConfigError(Exception):
    """A configuration ferryd cannot run with.

    One instance describes one problem (`source`, `line`, `option`, `message`); `errors` holds
    every problem found, so a whole file is reported at once. For a single problem `errors` is
    `(self,)`; for several, the fields describe the first one and `str()` lists them all, one
    per line, e.g. `/etc/vsftpd.conf:12: unknown option 'ssl_enabel' (did you mean
    'ssl_enable'?)`.
    """

    def __init__(
        self,
        source: str,
        message: str,
        *,
        line: int | None = None,
        option: str | None = None,
        override: str | None = None,
    ) -> None:
        super().__init__(source, message)
        self.source = source
        """The file path, "-o" for overrides, or "<embedded>"."""
        self.line = line
        """1-based line number in the file; None for overrides and whole-file problems."""
        self.option = option
        """The canonical option name the problem is about, when there is one."""
        self.message = message
        self.override = override
        """For source "-o": the override's NAME=VALUE text (without the -o)."""
        self.errors: tuple[ConfigError, ...] = (self,)

    @classmethod
    def combine(cls, errors: Sequence[ConfigError]) -> ConfigError:
        """One error carrying every problem of `errors` (which must not be empty)."""
        problems = tuple(problem for error in errors for problem in error.errors)
        if not problems:
            raise ValueError("ConfigError.combine needs at least one error")
        if len(problems) == 1:
            return problems[0]
        first = problems[0]
        combined = cls(
            first.source,
            first.message,
            line=first.line,
            option=first.option,
            override=first.override,
        )
        combined.errors = problems
        return combined

    @property
    def location(self) -> str:
        """Where the problem is: `file:line`, `file`, or `-o 'NAME=VALUE'`."""
        return format_location(self.source, self.line, self.override)

    def __str__(self) -> str:
        return "\n".join(f"{problem.location}: {problem.message}" for problem in self.errors)
