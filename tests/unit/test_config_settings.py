"""load_config on real files: file checks, overrides, cross-option checks, notices, Settings."""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path

import pytest

from ferryd.config import (
    EMBEDDED_DEFAULT_PATH,
    OPTIONS,
    ConfigError,
    Group,
    OptionKind,
    Settings,
    TlsSettings,
    format_effective,
    load_config,
)
from ferryd.config.document import render_options_markdown
from ferryd.config.options import options_in_group
from ferryd.config.parser import parse_config_text

REPOSITORY = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, text: str, name: str = "vsftpd.conf") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def load_text(tmp_path: Path, text: str, overrides: typing.Sequence[str] = ()) -> Settings:
    return load_config(write_config(tmp_path, text), overrides, data_dir=str(tmp_path / "data"))


def load_error(tmp_path: Path, text: str, overrides: typing.Sequence[str] = ()) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text, overrides)
    return caught.value


# ---- reading the file ----


def test_missing_file(tmp_path: Path) -> None:
    path = str(tmp_path / "absent.conf")
    with pytest.raises(ConfigError) as caught:
        load_config(path, data_dir=str(tmp_path))
    assert str(caught.value) == f"{path}: cannot open the config file: No such file or directory"
    assert (caught.value.source, caught.value.line) == (path, None)


def test_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(str(tmp_path), data_dir=str(tmp_path))
    assert str(caught.value) == f"{tmp_path}: not a regular file"


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.conf"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(str(fifo), data_dir=str(tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "listen=YES\n")
    os.chmod(path, 0)
    with pytest.raises(ConfigError) as caught:
        load_config(path, data_dir=str(tmp_path))
    assert str(caught.value) == f"{path}: cannot open the config file: Permission denied"


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs Linux /proc")
def test_read_error_names_the_os_reason(tmp_path: Path) -> None:
    # a regular file whose read fails even for root
    with pytest.raises(ConfigError) as caught:
        load_config("/proc/self/mem", data_dir=str(tmp_path))
    assert str(caught.value) == "/proc/self/mem: cannot read the config file: Input/output error"


def test_file_too_big(tmp_path: Path) -> None:
    line = "# padding padding padding padding padding padding padding padding padding\n"
    text = line * (100_000 // len(line))
    text += "#" * (100_000 - len(text) - 1) + "\n"
    assert len(text.encode()) == 100_000
    assert load_text(tmp_path, text).values["listen"] is True  # exactly the limit is fine
    error = load_error(tmp_path, text + "\n")
    assert error.message == "the config file is larger than 100000 bytes"


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.conf"
    path.write_bytes(b"listen=YES\nftpd_banner=Willkommen \xfcberall\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), data_dir=str(tmp_path))
    assert str(caught.value) == f"{path}:2: not UTF-8 text: byte 0xfc"


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.conf"
    path.write_bytes(b"\xef\xbb\xbflisten_port=2121\r\n")
    assert load_config(str(path), data_dir=str(tmp_path)).listen.listen_port == 2121


# ---- overrides ----


def test_overrides_win_over_the_file(tmp_path: Path) -> None:
    settings = load_text(
        tmp_path, "listen_port=21\nwrite_enable=YES\n", ["-olisten_port=2121", "write_enable=NO"]
    )
    assert settings.listen.listen_port == 2121
    assert settings.access.write_enable is False


def test_file_and_override_errors_are_reported_together(tmp_path: Path) -> None:
    error = load_error(tmp_path, "listen_port=x\n", ["-owrite_enable=perhaps"])
    lines = str(error).splitlines()
    assert len(error.errors) == 2
    assert lines[0].endswith("vsftpd.conf:1: option 'listen_port': bad number 'x': expected a "
                             "decimal number such as 21, or octal with a leading 0")
    assert lines[1].startswith("-o 'write_enable=perhaps': option 'write_enable': bad boolean")


# ---- checks across options ----


@pytest.mark.parametrize(
    ("text", "overrides", "line", "message"),
    [
        ("listen=YES\nlisten_ipv6=YES\n", (), 2,
         "listen=YES and listen_ipv6=YES cannot both be on (as in vsftpd): set listen=NO; "
         "listen_ipv6=YES on the any address (::) accepts IPv4 clients too"),
        ("listen=NO\n", (), 1,
         "listen=NO and listen_ipv6=NO ask for inetd mode, which ferryd does not have: "
         "set listen=YES (IPv4) or listen_ipv6=YES (IPv6)"),
        ("pasv_min_port=30100\npasv_max_port=30000\n", (), 2,
         "pasv_min_port=30100 is above pasv_max_port=30000"),
        ("pasv_max_port=3000\n", (), 1,
         "pasv_min_port=5001 (the default) is above pasv_max_port=3000"),
        ("background=YES\n", (), 1,
         "background=YES is not supported: ferryd stays in the foreground; run it under "
         "systemd (Type=simple) or another supervisor instead"),
        ("ssl_enable=YES\nlisten_port=990\nimplicit_ssl_port=990\n", (), 3,
         "implicit_ssl_port=990 is also listen_port: give the implicit-FTPS listener its own "
         "port, or use implicit_ssl=YES to make listen_port implicit"),
        ("implicit_ssl=YES\n", (), 1, "implicit_ssl=YES needs TLS: set ssl_enable=YES as well"),
        ("implicit_ssl_port=990\n", (), 1,
         "implicit_ssl_port=990 needs TLS: set ssl_enable=YES as well"),
        ("ssl_enable=YES\nssl_tlsv1_2=NO\nssl_tlsv13=NO\n", (), 3,
         "ssl_enable=YES but every TLS version is off: set ssl_tlsv12=YES or ssl_tlsv13=YES"),
        ("listen_address=::1\n", (), 1, "option 'listen_address': '::1' is not an IPv4 address"),
        ("listen=NO\nlisten_ipv6=YES\nlisten_address6=127.0.0.1\n", (), 3,
         "option 'listen_address6': '127.0.0.1' is not an IPv6 address"),
        ("pasv_address=ftp.example.com\n", (), 1,
         "option 'pasv_address': 'ftp.example.com' is not an IPv4 address; set "
         "pasv_addr_resolve=YES to give a host name"),
        ("sftp_listen_address=localhost\n", (), 1,
         "option 'sftp_listen_address': 'localhost' is not an IPv4 or IPv6 address"),
        ("cert_auto_generate=YES\nrsa_cert_file=\n", (), 1,
         "cert_auto_generate=YES needs rsa_cert_file: the file to generate"),
        ("argon2_time_cost=2\nargon2_memory_cost=8192\n", (), 2,
         "argon2_memory_cost=8192 with argon2_time_cost=2 is weaker than OWASP's least "
         "argon2id cost: keep memory (KiB) x passes at or above 35840, e.g. "
         "argon2_memory_cost=19456 with argon2_time_cost=2"),
    ],
)
def test_cross_option_errors(
    tmp_path: Path, text: str, overrides: tuple[str, ...], line: int, message: str
) -> None:
    error = load_error(tmp_path, text, overrides)
    assert [problem.message for problem in error.errors] == [message]
    assert error.line == line
    assert str(error) == f"{tmp_path / 'vsftpd.conf'}:{line}: {message}"


def test_cross_option_error_from_an_override_names_it(tmp_path: Path) -> None:
    error = load_error(tmp_path, "listen=YES\n", ["-olisten_ipv6=YES"])
    assert error.source == "-o"
    assert error.override == "listen_ipv6=YES"
    assert str(error).startswith("-o 'listen_ipv6=YES': listen=YES and listen_ipv6=YES")


def test_valid_combinations(tmp_path: Path) -> None:
    settings = load_text(
        tmp_path,
        "listen=NO\nlisten_ipv6=YES\nlisten_address6=::1\npasv_min_port=40000\n"
        "pasv_max_port=0\nssl_enable=YES\nimplicit_ssl_port=990\npasv_address=ftp.example.com\n"
        "pasv_addr_resolve=YES\nsftp_listen_address=::\nargon2_time_cost=1\n",
    )
    assert settings.store.argon2_time_cost == 1  # 64 MiB x 1 pass: OWASP's 46 MiB x 1 set
    assert settings.listen.listen_ipv6 is True
    assert settings.listen.implicit_ssl_port == 990
    assert settings.data.pasv_address == "ftp.example.com"


# ---- notices ----


def test_notices_for_options_without_effect(tmp_path: Path) -> None:
    path = tmp_path / "vsftpd.conf"
    settings = load_text(
        tmp_path,
        "anonymous_enable=NO\ntcp_wrappers=YES\nseccomp_sandbox=YES\nbetter_stou=YES\n"
        "log_die=YES\n",
    )
    assert settings.notices == (
        f"{path}:2: tcp_wrappers=YES has no effect in ferryd: ferryd has no libwrap; "
        "use a firewall",
        f"{path}:4: better_stou=YES is not implemented yet: FTP command set; "
        "it has no effect for now",
        f"{path}:5: log_die=YES is not implemented yet: logging (issue 7); "
        "it has no effect for now",
    )


def test_anonymous_enable_defaults_to_yes_as_in_vsftpd(tmp_path: Path) -> None:
    settings = load_text(tmp_path, "listen=YES\n")
    assert settings.access.anonymous_enable is True
    assert settings.access.ftp_username == "ftp"
    assert settings.access.anon_world_readable_only is True
    assert settings.access.anon_umask == 0o077
    assert settings.notices == ()


# ---- Settings ----


def test_group_classes_follow_the_table() -> None:
    python_types = {OptionKind.BOOL: bool, OptionKind.NUM: int, OptionKind.STR: str}
    grouped: set[str] = set()
    for settings_field in dataclasses.fields(Settings):
        if settings_field.name in ("notices", "values", "source"):
            continue
        group = Group(settings_field.name)
        group_class = typing.get_type_hints(Settings)[settings_field.name]
        hints = typing.get_type_hints(group_class)
        assert sorted(hints) == sorted(spec.name for spec in options_in_group(group))
        for spec in options_in_group(group):
            expected: object = python_types[spec.kind]
            if spec.kind is OptionKind.STR and spec.nullable:
                expected = str | None
            assert hints[spec.name] == expected, spec.name
            grouped.add(spec.name)
    assert {field.name for field in dataclasses.fields(Settings)} >= {g.value for g in Group}
    assert "tcp_wrappers" not in grouped


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_text(tmp_path, "listen=YES\n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.tls.ssl_enable = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.values["listen"] = False  # type: ignore[index]


def test_seed_passive_implicit_configuration(tmp_path: Path) -> None:
    text = (
        "anonymous_enable=NO\nlocal_enable=YES\nwrite_enable=YES\nxferlog_enable=YES\n"
        "xferlog_std_format=NO\nascii_upload_enable=YES\nascii_download_enable=YES\n"
        "chroot_local_user=YES\nlisten=YES\nallow_writeable_chroot=YES\nuse_localtime=YES\n"
        "force_dot_files=YES\nssl_enable=YES\nrsa_cert_file=/etc/pki/tls/certs/vsftpd.pem\n"
        "ssl_sslv2=NO\nssl_sslv3=NO\nssl_tlsv1=YES\n#force_local_data_ssl=YES\n"
        "#force_local_logins_ssl=YES\npasv_enable=YES\npasv_address=203.0.113.10\n"
        "pasv_addr_resolve=YES\npasv_min_port=30000\npasv_max_port=30000\nimplicit_ssl=YES\n"
        "listen_port=990\n"
    )
    settings = load_text(tmp_path, text)
    assert settings.notices == ()
    assert settings.tls == TlsSettings(
        ssl_enable=True, implicit_ssl=True, allow_anon_ssl=False, force_local_logins_ssl=True,
        force_local_data_ssl=True, force_anon_logins_ssl=False, force_anon_data_ssl=False,
        ssl_sslv2=False, ssl_sslv3=False, ssl_tlsv1=True, ssl_tlsv11=False, ssl_tlsv12=True,
        ssl_tlsv13=True, ssl_ciphers="ECDHE-RSA-AES256-GCM-SHA384",
        rsa_cert_file="/etc/pki/tls/certs/vsftpd.pem", rsa_private_key_file=None,
        dsa_cert_file=None, dsa_private_key_file=None, require_ssl_reuse=True,
        strict_ssl_read_eof=True, strict_ssl_write_shutdown=False, ssl_request_cert=True,
        require_cert=False, validate_cert=False, ca_certs_file=None, ssl_sni_hostname=None,
        debug_ssl=False, cert_auto_generate=False,
    )
    assert (settings.listen.listen_port, settings.data.pasv_min_port) == (990, 30000)
    assert settings.ftp.use_localtime is settings.log.use_localtime is True
    assert settings.source == str(tmp_path / "vsftpd.conf")


def test_embedded_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_config(None, data_dir="ferryd-data")
    data_dir = str(tmp_path / "ferryd-data")
    assert settings.source == "<embedded>"
    assert settings.notices == ()
    assert settings.store.data_dir == data_dir
    assert settings.store.user_db == f"{data_dir}/users.sqlite3"
    assert settings.log.vsftpd_log_file == f"{data_dir}/vsftpd.log"
    assert settings.log.xferlog_file == f"{data_dir}/xferlog"
    expected = {  # design.md section 1: TLS-only FTPS on 2121/2990, SFTP on 2222
        "listen": True, "listen_address": None, "listen_port": 2121, "implicit_ssl_port": 2990,
        "anonymous_enable": False, "local_enable": False, "write_enable": True,
        "local_umask": 0o22, "pasv_min_port": 30000, "pasv_max_port": 30099,
        "chroot_local_user": True, "xferlog_enable": True, "ssl_enable": True,
        "force_local_logins_ssl": True, "force_local_data_ssl": True,
        "require_ssl_reuse": True, "cert_auto_generate": True,
        "rsa_cert_file": f"{data_dir}/tls/ferryd.pem", "sftp_enable": True, "sftp_port": 2222,
    }
    assert {name: settings.values[name] for name in expected} == expected
    assert "${data_dir}" in EMBEDDED_DEFAULT_PATH.read_text(encoding="utf-8")


def test_embedded_default_follows_an_overridden_data_dir(tmp_path: Path) -> None:
    settings = load_config(None, [f"-odata_dir={tmp_path}/other"], data_dir="unused")
    assert settings.log.vsftpd_log_file == f"{tmp_path}/other/vsftpd.log"
    assert settings.store.user_db == f"{tmp_path}/other/users.sqlite3"


def test_data_dir_placeholder_is_literal_in_user_files(tmp_path: Path) -> None:
    settings = load_text(tmp_path, "anonymous_enable=NO\nxferlog_file=${data_dir}/xferlog\n")
    assert settings.log.xferlog_file == "${data_dir}/xferlog"


def test_store_paths_are_absolute_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, "anonymous_enable=NO\ndata_dir=state\nuser_db=db/u.sqlite3\n")
    settings = load_config(config, data_dir="ignored")
    assert settings.store.data_dir == str(tmp_path / "state")
    assert settings.store.user_db == str(tmp_path / "db" / "u.sqlite3")
    assert settings.values["user_db"] == settings.store.user_db
    # paths of other options stay as written
    settings = load_config(config, ["banner_file=banner.txt"], data_dir="ignored")
    assert settings.ftp.banner_file == "banner.txt"


def test_format_effective_lists_every_option_and_parses_back(tmp_path: Path) -> None:
    settings = load_text(tmp_path, "local_umask=022\nssl_tlsv1_3=NO\nftpd_banner=Hi there\n")
    listing = format_effective(settings)
    lines = listing.splitlines()
    names = [line.partition("=")[0] for line in lines]
    assert names == sorted(names)
    assert len(lines) == len(OPTIONS)
    assert {"local_umask=022", "ssl_tlsv13=NO", "ftpd_banner=Hi there", "banner_file=",
            "file_open_mode=0666", "listen=YES", "max_clients=2000"} <= set(lines)
    reparsed = parse_config_text(listing, "effective")
    assert reparsed.effective_values() == dict(settings.values)


# ---- docs/options.md ----


def test_committed_options_doc_is_generated_from_the_table() -> None:
    committed = (REPOSITORY / "docs" / "options.md").read_text(encoding="utf-8")
    assert committed == render_options_markdown(), (
        "docs/options.md is stale: run python -m ferryd.config.document > docs/options.md"
    )


def test_options_doc_lists_every_option() -> None:
    document = render_options_markdown()
    for name in OPTIONS:
        assert f"| `{name}`" in document, name
    assert "## vsftpd options (136)" in document
