"""The option table and the pure parser: vsftpd.conf text -> ParsedConfig or ConfigError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferryd.config import OPTIONS, ConfigError, OptionKind, Origin, Status, find_option
from ferryd.config.parser import ParsedConfig, parse_config_text, parse_overrides


def names(text: str) -> list[str]:
    return text.split()


# Written out from vsftpd-options.md, independently of the table.
UPSTREAM_BOOLEANS = names("""
allow_anon_ssl allow_writeable_chroot anon_mkdir_write_enable anon_other_write_enable
anon_upload_enable anon_world_readable_only anonymous_enable ascii_download_enable
ascii_upload_enable async_abor_enable background check_shell chmod_enable chown_uploads
chroot_list_enable chroot_local_user connect_from_port_20 debug_ssl delete_failed_uploads
deny_email_enable dirlist_enable dirmessage_enable download_enable dual_log_enable
force_anon_data_ssl force_anon_logins_ssl force_dot_files force_local_data_ssl
force_local_logins_ssl ftp_enable guest_enable hide_ids http_enable implicit_ssl isolate
isolate_network listen listen_ipv6 local_enable lock_upload_files log_ftp_protocol
ls_recurse_enable mdtm_write no_anon_password no_log_lock one_process_model
passwd_chroot_enable pasv_addr_resolve pasv_enable pasv_promiscuous port_enable
port_promiscuous ptrace_sandbox require_cert require_ssl_reuse run_as_launching_user
seccomp_sandbox secure_email_list_enable session_support setproctitle_enable ssl_enable
ssl_request_cert ssl_sslv2 ssl_sslv3 ssl_tlsv1 ssl_tlsv11 ssl_tlsv12 ssl_tlsv13
strict_ssl_read_eof strict_ssl_write_shutdown syslog_enable tcp_wrappers text_userdb_names
tilde_user_enable use_localtime use_sendfile userlist_deny userlist_enable validate_cert
virtual_use_local_privs write_enable xferlog_enable xferlog_std_format
""")
UPSTREAM_NUMBERS = names("""
accept_timeout anon_max_rate anon_umask chown_upload_mode connect_timeout
data_connection_timeout delay_failed_login delay_successful_login file_open_mode ftp_data_port
idle_session_timeout listen_port local_max_rate local_umask max_clients max_login_fails
max_per_ip pasv_max_port pasv_min_port trans_chunk_size
""")
UPSTREAM_STRINGS = names("""
anon_root banned_email_file banner_file ca_certs_file chown_username chroot_list_file
cmds_allowed cmds_denied deny_file dsa_cert_file dsa_private_key_file email_password_file
ftp_username ftpd_banner guest_username hide_file listen_address listen_address6 local_root
message_file nopriv_user pam_service_name pasv_address rsa_cert_file rsa_private_key_file
secure_chroot_dir ssl_ciphers ssl_sni_hostname user_config_dir user_sub_token userlist_file
vsftpd_log_file xferlog_file
""")
FEDORA_NAMES = {
    "better_stou": OptionKind.BOOL,
    "bind_retries": OptionKind.NUM,
    "dh_param_file": OptionKind.STR,
    "ecdh_param_file": OptionKind.STR,
    "log_die": OptionKind.BOOL,
    "reverse_lookup_enable": OptionKind.BOOL,
    "userlist_log": OptionKind.BOOL,
    "wc_logs_enable": OptionKind.BOOL,
}
IMPLEMENTED_NAMES = names("""
guest_enable guest_username virtual_use_local_privs user_config_dir chown_uploads
chown_username chown_upload_mode
anonymous_enable anon_mkdir_write_enable anon_other_write_enable anon_upload_enable
anon_world_readable_only deny_email_enable no_anon_password secure_email_list_enable
anon_max_rate anon_umask anon_root banned_email_file email_password_file ftp_username
check_shell chroot_list_enable chroot_list_file passwd_chroot_enable pam_service_name
user_sub_token userlist_enable userlist_deny userlist_file userlist_log reverse_lookup_enable
session_support
listen listen_ipv6 listen_address listen_address6 listen_port background write_enable
download_enable dirlist_enable local_root local_umask file_open_mode chroot_local_user
allow_writeable_chroot xferlog_enable xferlog_std_format xferlog_file vsftpd_log_file
dual_log_enable log_ftp_protocol syslog_enable use_localtime force_dot_files hide_ids
text_userdb_names ascii_upload_enable ascii_download_enable async_abor_enable pasv_enable
pasv_min_port pasv_max_port pasv_address pasv_addr_resolve pasv_promiscuous port_enable
port_promiscuous connect_from_port_20 ftp_data_port ftpd_banner banner_file dirmessage_enable
message_file idle_session_timeout data_connection_timeout accept_timeout connect_timeout
max_clients max_per_ip max_login_fails delay_failed_login delay_successful_login cmds_allowed
cmds_denied deny_file hide_file mdtm_write chmod_enable ls_recurse_enable delete_failed_uploads
lock_upload_files trans_chunk_size use_sendfile local_max_rate tilde_user_enable local_enable
anonymous_enable ssl_enable implicit_ssl allow_anon_ssl force_local_logins_ssl
force_local_data_ssl force_anon_logins_ssl force_anon_data_ssl ssl_sslv2 ssl_sslv3 ssl_tlsv1
pasv_address_map pasv_addr_refresh ban_enable ban_max_failures ban_window ban_time ban_allowlist
shutdown_grace upload_mode proxy_protocol_enable proxy_protocol_trusted max_pending_logins
ssl_tlsv11 ssl_tlsv12 ssl_tlsv13 ssl_ciphers rsa_cert_file rsa_private_key_file dsa_cert_file
dsa_private_key_file require_ssl_reuse strict_ssl_read_eof strict_ssl_write_shutdown
ssl_request_cert require_cert validate_cert ca_certs_file ssl_sni_hostname debug_ssl
max_line_length cert_auto_generate data_dir user_db implicit_ssl_port log_format
sftp_enable sftp_port sftp_listen_address sftp_host_key_file scp_enable sftp_password_auth
sftp_pubkey_auth sftp_banner sftp_login_grace_time
argon2_time_cost argon2_memory_cost argon2_parallelism nopriv_user
""")


def parse(text: str) -> ParsedConfig:
    return parse_config_text(text, "/etc/vsftpd.conf")


def parse_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return caught.value


def value_of(text: str, name: str) -> object:
    return parse(text).value(name)


# ---- the table ----


def test_table_has_exactly_the_136_upstream_names_with_their_kinds() -> None:
    assert (len(UPSTREAM_BOOLEANS), len(UPSTREAM_NUMBERS), len(UPSTREAM_STRINGS)) == (83, 20, 33)
    expected = {
        **{name: OptionKind.BOOL for name in UPSTREAM_BOOLEANS},
        **{name: OptionKind.NUM for name in UPSTREAM_NUMBERS},
        **{name: OptionKind.STR for name in UPSTREAM_STRINGS},
    }
    upstream = {name: spec.kind for name, spec in OPTIONS.items() if spec.origin is Origin.VSFTPD}
    assert upstream == expected


def test_table_has_the_fedora_names_and_spellings() -> None:
    fedora = {name: spec.kind for name, spec in OPTIONS.items() if spec.origin is Origin.FEDORA}
    assert fedora == FEDORA_NAMES
    assert OPTIONS["bind_retries"].default == 9
    for version in ("1", "2", "3"):
        alias = find_option(f"ssl_tlsv1_{version}")
        assert alias is not None and alias.name == f"ssl_tlsv1{version}"


@pytest.mark.parametrize(
    ("name", "default"),
    [
        ("listen", True), ("max_clients", 2000), ("max_per_ip", 50), ("pasv_min_port", 5001),
        ("pasv_max_port", 0), ("strict_ssl_read_eof", True),
        ("ssl_ciphers", "ECDHE-RSA-AES256-GCM-SHA384"), ("anonymous_enable", True),
        ("local_enable", False), ("write_enable", False), ("local_umask", 0o77),
        ("anon_umask", 0o77), ("file_open_mode", 0o666), ("require_ssl_reuse", True),
        ("seccomp_sandbox", True), ("isolate", True), ("isolate_network", True),
        ("force_local_data_ssl", True), ("force_local_logins_ssl", True),
        ("ssl_tlsv1", False), ("ssl_tlsv12", True), ("ssl_tlsv13", True),
        ("delay_failed_login", 1), ("idle_session_timeout", 300), ("listen_port", 21),
        ("rsa_cert_file", "/usr/share/ssl/certs/vsftpd.pem"), ("message_file", ".message"),
        ("upload_mode", "atomic"), ("log_format", "vsftpd"), ("max_line_length", 4096),
        ("implicit_ssl_port", 0), ("sftp_port", 22), ("cert_auto_generate", False),
    ],
)
def test_defaults_are_vsftpd_code_defaults(name: str, default: object) -> None:
    assert OPTIONS[name].default == default


def test_every_row_is_consistent() -> None:
    python_types = {OptionKind.BOOL: bool, OptionKind.NUM: int, OptionKind.STR: str}
    for spec in OPTIONS.values():
        if spec.default is not None:
            assert type(spec.default) is python_types[spec.kind], spec.name
        assert spec.meaning, spec.name
        if spec.status is not Status.IMPLEMENTED or spec.implemented_values is not None:
            assert spec.note, f"{spec.name} must say which issue or why"


def test_status_assignment() -> None:
    implemented = {name for name, spec in OPTIONS.items() if spec.status is Status.IMPLEMENTED}
    assert implemented == set(IMPLEMENTED_NAMES)
    assert OPTIONS["tcp_wrappers"].status is Status.NO_EFFECT
    assert "libwrap" in OPTIONS["tcp_wrappers"].note
    assert OPTIONS["isolate"].status is Status.NO_EFFECT
    assert OPTIONS["sftp_enable"].status is Status.IMPLEMENTED
    assert OPTIONS["ftp_enable"].status is Status.PLANNED
    assert OPTIONS["chown_uploads"].note == "when ferryd runs as root"


# ---- values ----


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("YES", True), ("yes", True), ("True", True), ("1", True),
     ("NO", False), ("no", False), ("FALSE", False), ("0", False)],
)
def test_booleans(raw: str, expected: bool) -> None:
    assert value_of(f"write_enable={raw}\n", "write_enable") is expected


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [("listen_port", "2121", 2121), ("local_umask", "077", 0o77), ("local_umask", "0", 0),
     ("file_open_mode", "0644", 0o644), ("max_clients", "0", 0),
     ("idle_session_timeout", "010", 8), ("trans_chunk_size", "4294967295", 2**32 - 1)],
)
def test_numbers_are_decimal_or_octal_with_a_leading_zero(
    name: str, raw: str, expected: int
) -> None:
    assert value_of(f"{name}={raw}\n", name) == expected


def test_strings_and_empty_means_unset() -> None:
    config = parse(
        "ftpd_banner=Welcome to # the drop box\nrsa_cert_file=\nssl_ciphers=\n"
        "cmds_denied=DELE,RMD\nbanner_file=/etc/a=b\n"
    )
    assert config.value("ftpd_banner") == "Welcome to # the drop box"
    assert config.value("cmds_denied") == "DELE,RMD"
    assert config.value("banner_file") == "/etc/a=b"
    assert config.value("rsa_cert_file") is None
    assert config.value("ssl_ciphers") == "DEFAULT"
    assert config.value("ca_certs_file") is None


def test_choices() -> None:
    assert value_of("upload_mode=atomic\n", "upload_mode") == "atomic"
    assert value_of("log_format=json\n", "log_format") == "json"
    error = parse_error("upload_mode=fast\n")
    assert error.message == (
        "option 'upload_mode': bad value 'fast': expected one of: atomic, direct"
    )


def test_fedora_spelling_sets_the_canonical_option() -> None:
    config = parse("ssl_tlsv1_2=NO\nssl_tlsv1_1=YES\n")
    assert config.value("ssl_tlsv12") is False
    assert config.value("ssl_tlsv11") is True
    assert set(config.settings) == {"ssl_tlsv11", "ssl_tlsv12"}


def test_last_setting_wins_and_keeps_its_line() -> None:
    config = parse("listen_port=21\nlisten_port=2121\n")
    setting = config.settings["listen_port"]
    assert (setting.value, setting.source, setting.line) == (2121, "/etc/vsftpd.conf", 2)


def test_decimal_umask_gets_a_notice() -> None:
    config = parse("local_umask=22\n")
    assert config.value("local_umask") == 22
    assert config.notices == (
        "/etc/vsftpd.conf:1: option 'local_umask': 22 has no leading 0, so it is decimal "
        "22 = octal 026; write 022 if you meant octal",
    )
    assert parse("local_umask=022\n").notices == ()


# ---- friendlier than vsftpd ----


def test_crlf_spaces_around_equals_indented_comments_and_blank_lines() -> None:
    text = (
        "# ferryd\r\n"
        "   # indented comment\r\n"
        "\r\n"
        "\t\r\n"
        "listen = YES\r\n"
        "  listen_port\t=\t2121  \r\n"
        "ftpd_banner= Hello there \r\n"
    )
    config = parse(text)
    assert config.value("listen") is True
    assert config.value("listen_port") == 2121
    assert config.value("ftpd_banner") == "Hello there"
    assert config.settings["listen_port"].line == 6


def test_empty_text_sets_nothing() -> None:
    assert parse("").settings == {}
    assert parse("\n\n# only comments\n").value("listen") is True


# ---- errors ----


def test_unknown_option_suggests_the_closest_name() -> None:
    error = parse_error("listen=YES\n\nssl_enabel=YES\n")
    assert str(error) == (
        "/etc/vsftpd.conf:3: unknown option 'ssl_enabel' (did you mean 'ssl_enable'?)"
    )
    assert (error.source, error.line, error.option) == ("/etc/vsftpd.conf", 3, None)


def test_unknown_option_names_are_case_sensitive() -> None:
    error = parse_error("LISTEN=YES\n")
    assert error.message == (
        "unknown option 'LISTEN' (did you mean 'listen'? names are case-sensitive)"
    )


def test_unknown_option_without_a_close_name() -> None:
    assert parse_error("frobnicate=1\n").message == "unknown option 'frobnicate'"


def test_bad_number() -> None:
    error = parse_error("listen_port=abc\n")
    assert str(error) == (
        "/etc/vsftpd.conf:1: option 'listen_port': bad number 'abc': expected a decimal "
        "number such as 21, or octal with a leading 0"
    )
    assert error.option == "listen_port"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("listen_port=-1", "option 'listen_port': negative number '-1' is not allowed: "
                           "expected a decimal number such as 21, or octal with a leading 0"),
        ("listen_port=", "option 'listen_port': missing value: expected a decimal number "
                         "such as 21, or octal with a leading 0"),
        ("listen=", "option 'listen': missing value: expected YES or NO "
                    "(TRUE/FALSE and 1/0 work too)"),
        ("listen=maybe", "option 'listen': bad boolean 'maybe': expected YES or NO "
                         "(TRUE/FALSE and 1/0 work too)"),
        ("listen=YES # standalone", "option 'listen': bad boolean 'YES # standalone': expected "
         "YES or NO (TRUE/FALSE and 1/0 work too); a comment must be on a line of its own"),
        ("local_umask=08", "option 'local_umask': bad octal number '08': a leading 0 means "
                           "octal, so only digits 0-7 follow"),
        ("local_umask=01000", "option 'local_umask': 01000 is out of range: expected 0 to 0777"),
        ("listen_port=70000", "option 'listen_port': 70000 is out of range: "
                              "expected 0 to 65535"),
        ("max_clients=4294967296", "option 'max_clients': 4294967296 is out of range: "
                                   "expected 0 to 4294967295"),
        ("max_line_length=100", "option 'max_line_length': 100 is out of range: "
                                "expected 512 to 4294967295"),
        ("max_clients=1.5", "option 'max_clients': bad number '1.5': expected a decimal number "
                            "such as 21, or octal with a leading 0"),
        ("max_clients=0x10", "option 'max_clients': bad number '0x10': expected a decimal "
                             "number such as 21, or octal with a leading 0"),
        ("max_clients=+5", "option 'max_clients': bad number '+5': expected a decimal number "
                           "such as 21, or octal with a leading 0"),
        ("max_clients=\u0665", "option 'max_clients': bad number '\u0665': expected a decimal "
                               "number such as 21, or octal with a leading 0"),
        ("xferlog_file=", "option 'xferlog_file': missing value: expected a value: this "
                          "option cannot be unset"),
        ("listen_ipv6", "option 'listen_ipv6': no '=': expected listen_ipv6=VALUE"),
        ("just some words", "unknown option 'just some words'"),
        ("=YES", "missing option name before '='"),
        ("ftpd_banner=bell\x07", "control character U+0007 in the line"),
    ],
)
def test_error_kinds(line: str, message: str) -> None:
    error = parse_error(f"# first\n{line}\n")
    assert error.message == message
    assert error.line == 2
    assert str(error) == f"/etc/vsftpd.conf:2: {message}"


def test_all_errors_of_a_file_are_reported() -> None:
    error = parse_error(
        "listen=YES\nlisten_prot=21\nwrite_enable=MAYBE\nlocal_umask=abc\nssl_enable=YES\n"
    )
    assert [(problem.line, problem.option) for problem in error.errors] == [
        (2, None), (3, "write_enable"), (4, "local_umask"),
    ]
    assert str(error).splitlines() == [
        "/etc/vsftpd.conf:2: unknown option 'listen_prot' (did you mean 'listen_port'?)",
        "/etc/vsftpd.conf:3: option 'write_enable': bad boolean 'MAYBE': expected YES or NO "
        "(TRUE/FALSE and 1/0 work too)",
        "/etc/vsftpd.conf:4: option 'local_umask': bad number 'abc': expected an octal number "
        "with a leading 0, such as 022",
    ]
    assert (error.line, error.option) == (2, None)  # the fields describe the first problem


def test_combine_needs_an_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ConfigError.combine([])


# ---- overrides ----


def test_overrides_with_and_without_dash_o() -> None:
    config = parse_overrides(["-olisten_port=990", "implicit_ssl=YES", "-o listen=NO"])
    assert config.value("listen_port") == 990
    assert config.value("implicit_ssl") is True
    assert config.value("listen") is False
    assert config.settings["listen_port"].location == "-o 'listen_port=990'"


def test_override_errors_name_the_override() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_overrides(["-olisten_port=abc", "ssl_enabel=YES", ""])
    assert str(caught.value).splitlines() == [
        "-o 'listen_port=abc': option 'listen_port': bad number 'abc': expected a decimal "
        "number such as 21, or octal with a leading 0",
        "-o 'ssl_enabel=YES': unknown option 'ssl_enabel' (did you mean 'ssl_enable'?)",
        "-o '': empty setting: expected NAME=VALUE",
    ]
    first = caught.value.errors[0]
    assert (first.source, first.line, first.override) == ("-o", None, "listen_port=abc")


def test_overrides_win_over_the_file() -> None:
    config = parse("listen_port=21\nwrite_enable=NO\n").updated_by(
        parse_overrides(["-olisten_port=2121"])
    )
    assert config.value("listen_port") == 2121
    assert config.value("write_enable") is False
    assert config.settings["listen_port"].source == "-o"


# ---- the seed's configurations (seed/000_63441e221aa85a27.txt), as real files have them ----

SEED_COMMON = """\
# 匿名ユーザ無効化
anonymous_enable=NO
# ローカルユーザ有効化
local_enable=YES
# 書込み許可
write_enable=YES
# 通信詳細をログ出力有効化
xferlog_enable=YES
# xferlogフォーマット形式を無効化
xferlog_std_format=NO
# ASCII転送有効化
ascii_upload_enable=YES
ascii_download_enable=YES
# chroot有効化
chroot_local_user=YES
# IPv4有効化
listen=YES
# chroot先での書込み許可
allow_writeable_chroot=YES
# ローカルタイムを利用
use_localtime=YES
# ドットファイルをデフォルトで表示
force_dot_files=YES
# SSL有効化
ssl_enable=YES
# SSLサーバ証明書
rsa_cert_file=/etc/pki/tls/certs/vsftpd.pem
# POODLE対応
ssl_sslv2=NO
ssl_sslv3=NO
ssl_tlsv1=YES
# 強制的にSSL接続
#force_local_data_ssl=YES
#force_local_logins_ssl=YES
"""
SEED_VARIANTS = {
    "active-explicit": "connect_from_port_20=YES\npasv_enable=NO\nimplicit_ssl=NO\n",
    "active-implicit": (
        "connect_from_port_20=YES\npasv_enable=NO\nimplicit_ssl=YES\nlisten_port=990\n"
    ),
    "passive-explicit": (
        "pasv_enable=YES\npasv_address=[サーバアドレス]\npasv_addr_resolve=YES\n"
        "pasv_min_port=30000\npasv_max_port=30000\nimplicit_ssl=NO\n"
    ),
    "passive-implicit": (
        "pasv_enable=YES\npasv_address=[サーバアドレス]\npasv_addr_resolve=YES\n"
        "pasv_min_port=30000\npasv_max_port=30000\nimplicit_ssl=YES\nlisten_port=990\n"
    ),
}


@pytest.mark.parametrize("variant", sorted(SEED_VARIANTS))
def test_seed_configurations_parse(variant: str) -> None:
    config = parse(SEED_COMMON + SEED_VARIANTS[variant])
    assert config.notices == ()
    assert config.value("ssl_enable") is True
    assert config.value("rsa_cert_file") == "/etc/pki/tls/certs/vsftpd.pem"
    assert config.value("force_local_data_ssl") is True  # commented out: the default stays
    assert config.value("implicit_ssl") is variant.endswith("implicit")
    assert config.value("listen_port") == (990 if variant.endswith("implicit") else 21)
    assert config.value("pasv_enable") is variant.startswith("passive")
    if variant.startswith("passive"):
        assert (config.value("pasv_min_port"), config.value("pasv_max_port")) == (30000, 30000)
        assert config.value("pasv_address") == "[サーバアドレス]"
    else:
        assert config.value("connect_from_port_20") is True


@given(st.text())
def test_any_text_parses_or_raises_config_error(text: str) -> None:
    try:
        config = parse(text)
    except ConfigError as error:
        assert error.errors
        assert all(problem.line is not None for problem in error.errors)
    else:
        assert set(config.settings) <= set(OPTIONS)


@given(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=5), st.text(max_size=12))
def test_any_value_for_any_option_parses_or_raises_config_error(
    names: list[str], value: str
) -> None:
    text = "".join(f"{name}={value}\n" for name in names)
    try:
        config = parse(text)
    except ConfigError as error:
        assert {problem.option for problem in error.errors} <= set(names) | {None}
    else:
        assert set(config.settings) == set(names)
