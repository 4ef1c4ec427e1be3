"""Checks across options, and notices for options ferryd does not (fully) implement. Pure."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator

from ferryd.config.errors import ConfigError
from ferryd.config.options import OPTIONS, OptionSpec, OptionValue, Status, format_value
from ferryd.config.parser import ParsedConfig, ParsedSetting
from ferryd.proxy.header import parse_trusted

_TLS_VERSION_OPTIONS = (
    "ssl_sslv2", "ssl_sslv3", "ssl_tlsv1", "ssl_tlsv11", "ssl_tlsv12", "ssl_tlsv13",
)


def check_combinations(config: ParsedConfig) -> list[ConfigError]:
    """Every problem that lies in how options combine, or in a value's meaning."""
    values = _Checker(config)
    return [problem for check in _CHECKS for problem in check(values)]


def status_notices(config: ParsedConfig) -> tuple[str, ...]:
    """A notice for each option whose value ferryd does not act on (yet), in file order."""
    notices = [
        (_position(config.settings.get(name)), notice)
        for name, spec in OPTIONS.items()
        if (notice := _status_notice(config, spec)) is not None
    ]
    return tuple(notice for _, notice in sorted(notices, key=lambda item: item[0]))


def _status_notice(config: ParsedConfig, spec: OptionSpec) -> str | None:
    value = config.value(spec.name)
    setting = config.settings.get(spec.name)
    shown = f"{spec.name}={format_value(spec, value)}"
    if spec.implemented_values is not None:
        # Partly implemented: the effective value counts, even when it is the default.
        if value in spec.implemented_values:
            return None
        where = config.source if setting is None else setting.location
        origin = " (the default)" if setting is None else ""
        working = format_value(spec, spec.implemented_values[0])
        return (
            f"{where}: {shown}{origin} is not implemented yet: {spec.note}; "
            f"ferryd behaves as with {spec.name}={working}"
        )
    if setting is None or value == spec.default:
        return None
    if spec.status is Status.PLANNED:
        return (
            f"{setting.location}: {shown} is not implemented yet: {spec.note}; "
            "it has no effect for now"
        )
    if spec.status is Status.NO_EFFECT:
        return f"{setting.location}: {shown} has no effect in ferryd: {spec.note}"
    return None


def _position(setting: ParsedSetting | None) -> tuple[bool, int]:
    """Sort key: defaults first, then file lines in order, then overrides."""
    if setting is None:
        return (False, 0)
    return (setting.override is not None, setting.line or 0)


class _Checker:
    """Reads effective values and makes errors located at the option's setting."""

    def __init__(self, config: ParsedConfig) -> None:
        self.config = config

    def __getitem__(self, name: str) -> OptionValue:
        return self.config.value(name)

    def shown(self, name: str) -> str:
        """`name=value`, marked when the value is the default rather than set."""
        text = f"{name}={format_value(OPTIONS[name], self[name])}"
        return text if name in self.config.settings else f"{text} (the default)"

    def error(self, name: str, message: str) -> ConfigError:
        setting = self.config.settings.get(name)
        if setting is None:
            return ConfigError(self.config.source, message, option=name)
        return ConfigError(
            setting.source, message, line=setting.line, option=name, override=setting.override
        )

    def latest(self, *names: str) -> str:
        """Of `names`, the one set last (overrides count as after the file); else the first."""
        set_names = [name for name in names if name in self.config.settings]
        if not set_names:
            return names[0]

        return max(set_names, key=lambda name: _position(self.config.settings[name]))


def _check_listeners(values: _Checker) -> Iterator[ConfigError]:
    if values["listen"] and values["listen_ipv6"]:
        yield values.error(
            values.latest("listen", "listen_ipv6"),
            f"{values.shown('listen')} and {values.shown('listen_ipv6')} cannot both be on "
            "(as in vsftpd): set listen=NO; listen_ipv6=YES on the any address (::) accepts "
            "IPv4 clients too",
        )
    elif not values["listen"] and not values["listen_ipv6"]:
        yield values.error(
            values.latest("listen", "listen_ipv6"),
            "listen=NO and listen_ipv6=NO ask for inetd mode, which ferryd does not have: "
            "set listen=YES (IPv4) or listen_ipv6=YES (IPv6)",
        )
    if values["background"]:
        yield values.error(
            "background",
            "background=YES is not supported: ferryd stays in the foreground; run it under "
            "systemd (Type=simple) or another supervisor instead",
        )
    implicit_port = values["implicit_ssl_port"]
    if implicit_port and implicit_port == values["listen_port"]:
        yield values.error(
            values.latest("implicit_ssl_port", "listen_port"),
            f"implicit_ssl_port={implicit_port} is also listen_port: give the implicit-FTPS "
            "listener its own port, or use implicit_ssl=YES to make listen_port implicit",
        )


def _check_passive_ports(values: _Checker) -> Iterator[ConfigError]:
    low, high = values["pasv_min_port"], values["pasv_max_port"]
    if isinstance(low, int) and isinstance(high, int) and high != 0 and low > high:
        yield values.error(
            values.latest("pasv_min_port", "pasv_max_port"),
            f"{values.shown('pasv_min_port')} is above {values.shown('pasv_max_port')}",
        )


def _check_addresses(values: _Checker) -> Iterator[ConfigError]:
    expected_versions = {
        "listen_address": (4,),
        "listen_address6": (6,),
        "sftp_listen_address": (4, 6),
    }
    if not values["pasv_addr_resolve"]:
        expected_versions["pasv_address"] = (4,)
    for name, versions in expected_versions.items():
        value = values[name]
        if not isinstance(value, str):
            continue
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            address = None
        if address is None or address.version not in versions:
            kind = " or ".join(f"IPv{version}" for version in versions)
            hint = (
                "; set pasv_addr_resolve=YES to give a host name"
                if name == "pasv_address" else ""
            )
            yield values.error(
                name, f"option {name!r}: {value!r} is not an {kind} address{hint}"
            )


def _check_proxy_protocol(values: _Checker) -> Iterator[ConfigError]:
    trusted = values["proxy_protocol_trusted"]
    try:
        networks = parse_trusted(trusted if isinstance(trusted, str) else None)
    except ValueError as exc:
        yield values.error("proxy_protocol_trusted", str(exc))
        return
    if values["proxy_protocol_enable"] and not networks:
        yield values.error(
            "proxy_protocol_enable",
            "proxy_protocol_enable=YES needs proxy_protocol_trusted: the addresses of the "
            "load balancers or proxies that send the header (e.g. 10.0.0.4,10.0.0.5)",
        )


def _check_tls(values: _Checker) -> Iterator[ConfigError]:
    if values["ssl_enable"]:
        if not any(values[name] for name in _TLS_VERSION_OPTIONS):
            yield values.error(
                values.latest(*_TLS_VERSION_OPTIONS),
                "ssl_enable=YES but every TLS version is off: set ssl_tlsv12=YES or "
                "ssl_tlsv13=YES",
            )
    else:
        for name in ("implicit_ssl", "implicit_ssl_port"):
            if values[name]:
                yield values.error(
                    name, f"{values.shown(name)} needs TLS: set ssl_enable=YES as well"
                )
    if values["cert_auto_generate"] and values["rsa_cert_file"] is None:
        yield values.error(
            "cert_auto_generate",
            "cert_auto_generate=YES needs rsa_cert_file: the file to generate",
        )


ARGON2_LEAST_WORK = 7168 * 5
"""KiB x passes: OWASP's weakest recommended argon2id set (7 MiB, 5 passes); its other sets
(12 MiB x 3, 19 MiB x 2, 46 MiB x 1) cost about the same."""


def _check_password_hash_cost(values: _Checker) -> Iterator[ConfigError]:
    memory, passes = values["argon2_memory_cost"], values["argon2_time_cost"]
    if isinstance(memory, int) and isinstance(passes, int) and memory * passes < ARGON2_LEAST_WORK:
        yield values.error(
            values.latest("argon2_memory_cost", "argon2_time_cost"),
            f"{values.shown('argon2_memory_cost')} with {values.shown('argon2_time_cost')} is "
            "weaker than OWASP's least argon2id cost: keep memory (KiB) x passes at or above "
            f"{ARGON2_LEAST_WORK}, e.g. argon2_memory_cost=19456 with argon2_time_cost=2",
        )


_CHECKS: tuple[Callable[[_Checker], Iterator[ConfigError]], ...] = (
    _check_password_hash_cost,
    _check_listeners,
    _check_passive_ports,
    _check_addresses,
    _check_proxy_protocol,
    _check_tls,
)
