"""vsftpd.conf-compatible configuration: text -> frozen Settings (design.md section 2).

    settings = load_config("/etc/vsftpd.conf", ["-olisten_port=2121"], data_dir="./ferryd-data")

Every problem is a ConfigError (its `errors` lists them all); options ferryd does not act on
produce `settings.notices` to log at start.
"""

from ferryd.config.errors import EMBEDDED_SOURCE, OVERRIDE_SOURCE, ConfigError
from ferryd.config.loading import (
    EMBEDDED_DEFAULT_PATH,
    MAX_CONFIG_BYTES,
    load_config,
    settings_for_user,
)
from ferryd.config.options import (
    OPTIONS,
    Group,
    OptionKind,
    OptionSpec,
    OptionValue,
    Origin,
    Status,
    find_option,
)
from ferryd.config.settings import (
    AccessSettings,
    DataChannelSettings,
    FtpSettings,
    ListenSettings,
    LogSettings,
    Settings,
    SftpSettings,
    StoreSettings,
    TlsSettings,
    format_effective,
)

__all__ = [
    "EMBEDDED_DEFAULT_PATH",
    "EMBEDDED_SOURCE",
    "MAX_CONFIG_BYTES",
    "OPTIONS",
    "OVERRIDE_SOURCE",
    "AccessSettings",
    "ConfigError",
    "DataChannelSettings",
    "FtpSettings",
    "Group",
    "ListenSettings",
    "LogSettings",
    "OptionKind",
    "OptionSpec",
    "OptionValue",
    "Origin",
    "Settings",
    "SftpSettings",
    "Status",
    "StoreSettings",
    "TlsSettings",
    "find_option",
    "format_effective",
    "load_config",
    "settings_for_user",
]
