"""vsftpd.conf text -> ParsedConfig. Pure: no files, no environment.

vsftpd's semantics, friendlier where that costs nothing: CRLF line ends, spaces around `=` and
indented comments are accepted. Every problem of a text is collected and raised together as one
ConfigError.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from ferryd.config.errors import OVERRIDE_SOURCE, ConfigError, format_location
from ferryd.config.options import (
    KNOWN_NAMES,
    OPTIONS,
    OptionKind,
    OptionSpec,
    OptionValue,
    find_option,
    format_value,
)

_TRUE_WORDS = frozenset({"YES", "TRUE", "1"})
_FALSE_WORDS = frozenset({"NO", "FALSE", "0"})
_DIGITS = re.compile(r"[0-9]+")
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class ParsedSetting:
    """One option's value and where it was set."""

    value: OptionValue
    source: str
    line: int | None
    override: str | None = None
    """For settings from -o: the NAME=VALUE text (without the -o)."""

    @property
    def location(self) -> str:
        return format_location(self.source, self.line, self.override)


@dataclass(frozen=True)
class ParsedConfig:
    """The options a text sets (canonical name -> last setting), and notices about it."""

    source: str
    settings: Mapping[str, ParsedSetting] = field(default_factory=lambda: MappingProxyType({}))
    notices: tuple[str, ...] = ()

    def value(self, name: str) -> OptionValue:
        """The effective value of option `name`: as set, else the table's default."""
        setting = self.settings.get(name)
        return OPTIONS[name].default if setting is None else setting.value

    def effective_values(self) -> dict[str, OptionValue]:
        """Every option's effective value, by canonical name."""
        return {name: self.value(name) for name in OPTIONS}

    def updated_by(self, later: ParsedConfig) -> ParsedConfig:
        """This configuration with every option `later` sets taking `later`'s value."""
        return ParsedConfig(
            source=self.source,
            settings=MappingProxyType({**self.settings, **later.settings}),
            notices=self.notices + later.notices,
        )


@dataclass(frozen=True)
class _Place:
    """Where a line being parsed comes from."""

    source: str
    line: int | None = None
    override: str | None = None

    def error(self, message: str, option: str | None = None) -> ConfigError:
        return ConfigError(
            self.source, message, line=self.line, option=option, override=self.override
        )

    def setting(self, value: OptionValue) -> ParsedSetting:
        return ParsedSetting(value, self.source, self.line, self.override)


class _BadValue(Exception):
    """A value that does not fit its option; the text says why and what is expected."""


def parse_config_text(text: str, source: str) -> ParsedConfig:
    """Parse a whole vsftpd.conf text; `source` names it in errors and notices.

    Raises ConfigError carrying every problem of the text.
    """
    return _parse_lines(source, _meaningful_lines(text, source))


def _meaningful_lines(text: str, source: str) -> Iterator[tuple[_Place, str]]:
    """The lines of `text` that are neither blank nor comments, stripped, with their place."""
    for number, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.strip()
        if line and not line.startswith("#"):
            yield _Place(source, line=number), line


def parse_overrides(arguments: Sequence[str]) -> ParsedConfig:
    """Parse command-line settings given as `-oNAME=VALUE` or `NAME=VALUE`, in order."""
    return _parse_lines(
        OVERRIDE_SOURCE,
        (
            (_Place(OVERRIDE_SOURCE, override=setting), setting)
            for setting in (argument.removeprefix("-o").strip() for argument in arguments)
        ),
    )


def _parse_lines(source: str, lines: Iterable[tuple[_Place, str]]) -> ParsedConfig:
    settings: dict[str, ParsedSetting] = {}
    notices: list[str] = []
    errors: list[ConfigError] = []
    for place, line in lines:
        try:
            name, setting, notice = _parse_line(place, line)
        except ConfigError as error:
            errors.append(error)
            continue
        settings[name] = setting
        if notice:
            notices.append(notice)
    if errors:
        raise ConfigError.combine(errors)
    return ParsedConfig(source, MappingProxyType(settings), tuple(notices))


def _parse_line(place: _Place, line: str) -> tuple[str, ParsedSetting, str | None]:
    """One `name=value` line -> (canonical name, setting, notice or None)."""
    control = _CONTROL_CHARACTER.search(line)
    if control:
        raise place.error(f"control character U+{ord(control.group()):04X} in the line")
    if not line:
        raise place.error("empty setting: expected NAME=VALUE")
    name, equals, raw_value = line.partition("=")
    name, raw_value = name.strip(), raw_value.strip()
    if not name:
        raise place.error("missing option name before '='")
    spec = find_option(name)
    if spec is None:
        raise place.error(f"unknown option {name!r}{_suggestion(name)}")
    if not equals:
        raise place.error(
            f"option {name!r}: no '=': expected {name}=VALUE", option=spec.name
        )
    try:
        value = _convert_value(spec, raw_value)
    except _BadValue as problem:
        raise place.error(f"option {name!r}: {problem}", option=spec.name) from problem
    setting = place.setting(value)
    notice = _decimal_mode_notice(spec, raw_value, value)
    if notice:
        notice = f"{setting.location}: option {name!r}: {notice}"
    return spec.name, setting, notice


def _suggestion(name: str) -> str:
    """` (did you mean 'x'?)` for the known name closest to `name`, or ``."""
    folded = name.lower()
    if folded in KNOWN_NAMES:
        return f" (did you mean {folded!r}? names are case-sensitive)"
    close = difflib.get_close_matches(folded, KNOWN_NAMES, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _convert_value(spec: OptionSpec, raw: str) -> OptionValue:
    """The value `raw` (already stripped) stands for; raises _BadValue."""
    if spec.kind is OptionKind.BOOL:
        return _convert_bool(spec, raw)
    if spec.kind is OptionKind.NUM:
        return _convert_number(spec, raw)
    return _convert_string(spec, raw)


def _expected_form(spec: OptionSpec) -> str:
    """What a valid value of `spec` looks like, for error messages."""
    if spec.kind is OptionKind.BOOL:
        return "expected YES or NO (TRUE/FALSE and 1/0 work too)"
    if spec.kind is OptionKind.NUM:
        if spec.octal:
            return "expected an octal number with a leading 0, such as 022"
        return "expected a decimal number such as 21, or octal with a leading 0"
    if spec.choices:
        return "expected one of: " + ", ".join(spec.choices)
    return "expected a value: this option cannot be unset"


def _convert_bool(spec: OptionSpec, raw: str) -> bool:
    word = raw.upper()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    if not raw:
        raise _BadValue(f"missing value: {_expected_form(spec)}")
    raise _BadValue(f"bad boolean {raw!r}: {_expected_form(spec)}{_comment_hint(raw)}")


def _convert_number(spec: OptionSpec, raw: str) -> int:
    expected = _expected_form(spec)
    if not raw:
        raise _BadValue(f"missing value: {expected}")
    if raw.startswith("-") and _DIGITS.fullmatch(raw[1:]):
        raise _BadValue(f"negative number {raw!r} is not allowed: {expected}")
    if not _DIGITS.fullmatch(raw):
        raise _BadValue(f"bad number {raw!r}: {expected}{_comment_hint(raw)}")
    if raw.startswith("0") and len(raw) > 1:
        if not set(raw) <= set("01234567"):
            raise _BadValue(
                f"bad octal number {raw!r}: a leading 0 means octal, so only digits 0-7 follow"
            )
        value = int(raw, 8)
    else:
        value = int(raw)
    if not spec.minimum <= value <= spec.maximum:
        low, high = format_value(spec, spec.minimum), format_value(spec, spec.maximum)
        raise _BadValue(f"{raw} is out of range: expected {low} to {high}")
    return value


def _convert_string(spec: OptionSpec, raw: str) -> str | None:
    if not raw:
        if spec.nullable:
            return None
        if spec.empty_means is not None:
            return spec.empty_means
        raise _BadValue(f"missing value: {_expected_form(spec)}")
    if spec.choices and raw not in spec.choices:
        raise _BadValue(f"bad value {raw!r}: {_expected_form(spec)}")
    return raw


def _comment_hint(raw: str) -> str:
    """vsftpd has no comments after a value; say so when a bad value looks like one."""
    return "; a comment must be on a line of its own" if "#" in raw else ""


def _decimal_mode_notice(spec: OptionSpec, raw: str, value: OptionValue) -> str | None:
    """A warning for a umask or mode written without its leading 0 (read as decimal)."""
    if not spec.octal or raw.startswith("0") or not isinstance(value, int) or value < 8:
        return None
    return (
        f"{raw} has no leading 0, so it is decimal {raw} = octal 0{value:o}; "
        f"write 0{raw} if you meant octal"
    )
