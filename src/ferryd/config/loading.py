"""load_config: the one place of the config package that reads files and the current folder."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from importlib import resources
from importlib.resources.abc import Traversable

from ferryd.config.errors import EMBEDDED_SOURCE, ConfigError
from ferryd.config.options import OPTIONS, OptionValue
from ferryd.config.parser import ParsedConfig, parse_config_text, parse_overrides
from ferryd.config.settings import Settings, build_settings
from ferryd.config.validation import check_combinations, status_notices

MAX_CONFIG_BYTES = 100_000
"""vsftpd's limit on a config file's size."""

EMBEDDED_DEFAULT_PATH: Traversable = resources.files("ferryd.config") / "embedded.conf"
"""The configuration served when no file is given (package data; read with read_text())."""

DATA_DIR_PLACEHOLDER = "${data_dir}"
"""Replaced by the data folder in the embedded default's values, and only there."""

USER_DB_FILE_NAME = "users.sqlite3"


def load_config(
    path: str | None, overrides: Sequence[str] = (), *, data_dir: str
) -> Settings:
    """Read, parse and check a configuration, apply overrides, and build Settings.

    `path` None serves the embedded default. `overrides` are `-oNAME=VALUE` or `NAME=VALUE`
    arguments; they win over the file, later ones over earlier ones. `data_dir` is the data
    folder unless the configuration sets data_dir. Raises ConfigError with every problem found.
    """
    if path is None:
        source, text = EMBEDDED_SOURCE, EMBEDDED_DEFAULT_PATH.read_text(encoding="utf-8")
    else:
        source, text = path, read_config_file(path)
    errors: list[ConfigError] = []
    file_config = override_config = ParsedConfig(source)
    try:
        file_config = parse_config_text(text, source)
    except ConfigError as error:
        errors.append(error)
    try:
        override_config = parse_overrides(overrides)
    except ConfigError as error:
        errors.append(error)
    if errors:
        raise ConfigError.combine(errors)
    config = file_config.updated_by(override_config)
    problems = check_combinations(config)
    if problems:
        raise ConfigError.combine(problems)
    return build_settings(
        _resolve_paths(config, data_dir),
        notices=config.notices + status_notices(config),
        source=source,
    )


def read_config_file(path: str) -> str:
    """The text of the config file at `path`: a regular UTF-8 file of at most 100 000 bytes."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise ConfigError(path, f"cannot open the config file: {error.strerror}") from error
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise ConfigError(path, "not a regular file")
        data = _read_up_to(descriptor, MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise ConfigError(path, f"cannot read the config file: {error.strerror}") from error
    finally:
        os.close(descriptor)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(path, f"the config file is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            path, f"not UTF-8 text: byte 0x{data[error.start]:02x}", line=line
        ) from error


def _read_up_to(descriptor: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = os.read(descriptor, remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _resolve_paths(config: ParsedConfig, default_data_dir: str) -> dict[str, OptionValue]:
    """Effective values with data_dir and user_db absolute (from the current folder) and the
    embedded default's ${data_dir} placeholders replaced."""
    values = config.effective_values()
    configured_data_dir = values["data_dir"]
    data_dir = os.path.abspath(
        configured_data_dir if isinstance(configured_data_dir, str) else default_data_dir
    )
    values["data_dir"] = data_dir
    for name, setting in config.settings.items():
        value = setting.value
        if setting.source == EMBEDDED_SOURCE and isinstance(value, str):
            values[name] = value.replace(DATA_DIR_PLACEHOLDER, data_dir)
    user_db = values["user_db"]
    values["user_db"] = os.path.abspath(
        user_db if isinstance(user_db, str) else os.path.join(data_dir, USER_DB_FILE_NAME)
    )
    return values


SESSION_GROUPS = frozenset({"access"})
SESSION_OPTIONS = frozenset({"chmod_enable", "mdtm_write"})
"""What a per-user file (user_config_dir) can change: the options that shape a session."""


def settings_for_user(settings: Settings, path: str) -> tuple[Settings, tuple[str, ...]]:
    """The settings for one user: `settings` with the options of their user_config_dir file.

    Returns the settings and notices (options the file sets that cannot differ per user and
    are ignored). Raises ConfigError naming the file and line of every problem; a missing
    file is the caller's to check (it means: no overrides)."""
    user_config = parse_config_text(read_config_file(path), path)
    values = dict(settings.values)
    notices = list(user_config.notices + status_notices(user_config))
    for name, setting in user_config.settings.items():
        groups = {group.value for group in OPTIONS[name].groups}
        if groups & SESSION_GROUPS or name in SESSION_OPTIONS:
            values[name] = setting.value
        else:
            notices.append(f"{path}: {name} cannot differ per user; the main configuration's "
                           "value applies")
    built = build_settings(values, notices=settings.notices, source=settings.source)
    return built, tuple(notices)
