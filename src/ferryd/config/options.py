"""The one table of every configuration option ferryd recognises.

Each row says what vsftpd 3.0.5's code (tunables.c, not the man page) uses as the default, what
the option means, whether ferryd implements it, and which settings group(s) it is passed in.
The parser, the validation, the settings dataclasses and docs/options.md all read this table.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

OptionValue = bool | int | str | None
"""A parsed option value: bool for YES/NO, int for numbers, str or None (unset) for strings."""

LARGEST_NUMBER = 2**32 - 1  # vsftpd stores numbers as unsigned int
LARGEST_PORT = 65535
LARGEST_MODE = 0o777


class OptionKind(enum.Enum):
    BOOL = "bool"
    NUM = "num"
    STR = "str"


class Status(enum.Enum):
    IMPLEMENTED = "implemented"
    PLANNED = "planned"
    NO_EFFECT = "no effect"


class Origin(enum.Enum):
    """Who defines the option name."""

    VSFTPD = "vsftpd"  # upstream vsftpd 3.0.5's parser
    FEDORA = "fedora"  # Fedora/RHEL's vsftpd patches
    FERRYD = "ferryd"  # ferryd's own


class Group(enum.Enum):
    """Settings groups; each is one frozen dataclass in settings.py."""

    LISTEN = "listen"
    FTP = "ftp"
    DATA = "data"
    ACCESS = "access"
    LOG = "log"
    TLS = "tls"
    SFTP = "sftp"
    STORE = "store"


@dataclass(frozen=True)
class OptionSpec:
    name: str
    kind: OptionKind
    default: OptionValue
    groups: tuple[Group, ...]
    status: Status
    note: str
    """PLANNED: the feature and its issue; NO_EFFECT: why; IMPLEMENTED: a caveat or ""."""
    meaning: str
    origin: Origin
    aliases: tuple[str, ...] = ()
    implemented_values: tuple[OptionValue, ...] | None = None
    """For a partly implemented option: the values that work today (others get a notice)."""
    choices: tuple[str, ...] = ()
    minimum: int = 0
    maximum: int = LARGEST_NUMBER
    octal: bool = False
    """A mode or umask: shown in octal with a leading 0."""
    nullable: bool = True
    """For strings: an empty value means unset (None), as in vsftpd."""
    empty_means: str | None = None
    """For a string that cannot be unset: what an empty value stands for (None: an error)."""
    default_text: str | None = None
    """For docs: how the default is worked out when it is not a constant."""


BOOL, NUM, STR = OptionKind.BOOL, OptionKind.NUM, OptionKind.STR
LISTEN, FTP, DATA, ACCESS = Group.LISTEN, Group.FTP, Group.DATA, Group.ACCESS
LOG, TLS, SFTP, STORE = Group.LOG, Group.TLS, Group.SFTP, Group.STORE

Availability = tuple[Status, str]
IMPLEMENTED: Availability = (Status.IMPLEMENTED, "")
AS_ROOT: Availability = (Status.IMPLEMENTED, "when ferryd runs as root")
FTPS_LATER: Availability = (Status.PLANNED, "FTPS (issue 3)")
SFTP_ISSUE: Availability = (Status.PLANNED, "SFTP and SCP (issue 4)")
PASSIVE_POOL: Availability = (
    Status.NO_EFFECT,
    "passive ports are shared listeners, one per port for every session; a new one is bound "
    "on up to 20 random free ports of the range",
)
LOGGING_ISSUE: Availability = (Status.PLANNED, "logging (issue 7)")
PROXY_FTP_ONLY: Availability = (
    Status.IMPLEMENTED, "FTP and FTPS; SFTP connections are not read for a header"
)
SANDBOX: Availability = (
    Status.NO_EFFECT,
    "sandboxing is by design different: sessions are tasks in one process that confines every "
    "path itself; run ferryd under systemd's sandboxing options instead",
)
NO_CHROOTED_NETWORK_SIDE: Availability = (
    Status.NO_EFFECT,
    "ferryd's unprivileged network side (nopriv_user) is not chrooted: it re-reads the "
    "configuration and certificates on SIGHUP and looks up system users",
)


def _option(
    name: str,
    kind: OptionKind,
    default: OptionValue,
    groups: tuple[Group, ...],
    availability: Availability,
    meaning: str,
    origin: Origin = Origin.VSFTPD,
    *,
    aliases: tuple[str, ...] = (),
    implemented_values: tuple[OptionValue, ...] | None = None,
    choices: tuple[str, ...] = (),
    minimum: int = 0,
    maximum: int = LARGEST_NUMBER,
    octal: bool = False,
    nullable: bool = True,
    empty_means: str | None = None,
    default_text: str | None = None,
) -> OptionSpec:
    status, note = availability
    return OptionSpec(
        name=name, kind=kind, default=default, groups=groups, status=status, note=note,
        meaning=meaning, origin=origin, aliases=aliases, implemented_values=implemented_values,
        choices=choices, minimum=minimum, maximum=maximum, octal=octal, nullable=nullable,
        empty_means=empty_means, default_text=default_text,
    )


def _port(
    name: str,
    default: int,
    groups: tuple[Group, ...],
    availability: Availability,
    meaning: str,
    origin: Origin = Origin.VSFTPD,
) -> OptionSpec:
    return _option(name, NUM, default, groups, availability, meaning, origin, maximum=LARGEST_PORT)


def _mode(name: str, default: int, groups: tuple[Group, ...], availability: Availability,
          meaning: str) -> OptionSpec:
    return _option(name, NUM, default, groups, availability, meaning, octal=True,
                   maximum=LARGEST_MODE)


FEDORA, FERRYD = Origin.FEDORA, Origin.FERRYD

_TABLE: tuple[OptionSpec, ...] = (
    # ---- vsftpd 3.0.5: boolean options (83) ----
    _option("allow_anon_ssl", BOOL, False, (TLS,), IMPLEMENTED,
            "anonymous users may use TLS"),
    _option("allow_writeable_chroot", BOOL, False, (ACCESS,), IMPLEMENTED,
            "allow a chroot into a root the user can write"),
    _option("anon_mkdir_write_enable", BOOL, False, (ACCESS,), IMPLEMENTED,
            "anonymous users may create directories (needs write_enable)"),
    _option("anon_other_write_enable", BOOL, False, (ACCESS,), IMPLEMENTED,
            "anonymous users may delete, rename and so on"),
    _option("anon_upload_enable", BOOL, False, (ACCESS,), IMPLEMENTED,
            "anonymous (and guest) users may upload (needs write_enable)"),
    _option("anon_world_readable_only", BOOL, True, (ACCESS,), IMPLEMENTED,
            "anonymous users may download only world-readable files"),
    _option("anonymous_enable", BOOL, True, (ACCESS,), IMPLEMENTED,
            "accept the ftp/anonymous logins"),
    _option("ascii_download_enable", BOOL, False, (FTP,), IMPLEMENTED,
            "honour TYPE A (ASCII) conversion on downloads"),
    _option("ascii_upload_enable", BOOL, False, (FTP,), IMPLEMENTED,
            "honour TYPE A (ASCII) conversion on uploads"),
    _option("async_abor_enable", BOOL, False, (FTP,), IMPLEMENTED,
            "support the urgent-data (async) ABOR"),
    _option("background", BOOL, False, (),
            (Status.IMPLEMENTED, "NO only; YES is an error: run ferryd under systemd instead"),
            "fork the listener into the background"),
    _option("check_shell", BOOL, True, (ACCESS,), IMPLEMENTED,
            "local users need a shell listed in /etc/shells"),
    _option("chmod_enable", BOOL, True, (FTP,), IMPLEMENTED,
            "allow SITE CHMOD"),
    _option("chown_uploads", BOOL, False, (ACCESS,), AS_ROOT,
            "give anonymous uploads to chown_username"),
    _option("chroot_list_enable", BOOL, False, (ACCESS,), IMPLEMENTED,
            "chroot the users in chroot_list_file (the exceptions when chroot_local_user=YES)"),
    _option("chroot_local_user", BOOL, False, (ACCESS,), IMPLEMENTED,
            "confine users to their home folder after login"),
    _option("connect_from_port_20", BOOL, False, (DATA,), IMPLEMENTED,
            "PORT data connections originate from ftp_data_port"),
    _option("debug_ssl", BOOL, False, (LOG, TLS), IMPLEMENTED,
            "log TLS diagnostics"),
    _option("delete_failed_uploads", BOOL, False, (ACCESS,), IMPLEMENTED,
            "delete the partial file when an upload fails"),
    _option("deny_email_enable", BOOL, False, (ACCESS,), IMPLEMENTED,
            "reject the anonymous passwords listed in banned_email_file"),
    _option("dirlist_enable", BOOL, True, (ACCESS,), IMPLEMENTED,
            "NO refuses every listing command"),
    _option("dirmessage_enable", BOOL, False, (FTP,), IMPLEMENTED,
            "show message_file on entering a directory"),
    _option("download_enable", BOOL, True, (ACCESS,), IMPLEMENTED,
            "NO refuses every download"),
    _option("dual_log_enable", BOOL, False, (LOG,), IMPLEMENTED,
            "write both the xferlog and the vsftpd log"),
    _option("force_anon_data_ssl", BOOL, False, (TLS,), IMPLEMENTED,
            "anonymous data connections must use TLS"),
    _option("force_anon_logins_ssl", BOOL, False, (TLS,), IMPLEMENTED,
            "anonymous users must use TLS before sending the password"),
    _option("force_dot_files", BOOL, False, (FTP,), IMPLEMENTED,
            "list dot files without -a (except . and ..)"),
    _option("force_local_data_ssl", BOOL, True, (TLS,), IMPLEMENTED,
            "non-anonymous data connections must use TLS (PROT P)"),
    _option("force_local_logins_ssl", BOOL, True, (TLS,), IMPLEMENTED,
            "non-anonymous users must use TLS (AUTH) before sending the password"),
    _option("ftp_enable", BOOL, True, (), SFTP_ISSUE,
            "serve FTP; vsftpd's NO was for its experimental HTTP mode"),
    _option("guest_enable", BOOL, False, (ACCESS,), IMPLEMENTED,
            "map every non-anonymous login to guest_username"),
    _option("hide_ids", BOOL, False, (FTP,), IMPLEMENTED,
            "show user and group as ftp in listings"),
    _option("http_enable", BOOL, False, (),
            (Status.NO_EFFECT, "vsftpd's experimental HTTP mode is not part of ferryd"),
            "serve a minimal HTTP server instead of FTP"),
    _option("implicit_ssl", BOOL, False, (TLS,), IMPLEMENTED,
            "TLS handshake immediately on connect (implicit FTPS) on listen_port"),
    _option("isolate", BOOL, True, (), SANDBOX,
            "run sessions in new PID and IPC namespaces"),
    _option("isolate_network", BOOL, True, (), SANDBOX,
            "run sessions in an empty network namespace"),
    _option("listen", BOOL, True, (LISTEN,), IMPLEMENTED,
            "listen on IPv4 (listen_address); excludes listen_ipv6"),
    _option("listen_ipv6", BOOL, False, (LISTEN,), IMPLEMENTED,
            "listen on IPv6 (listen_address6); excludes listen"),
    _option("local_enable", BOOL, False, (ACCESS,),
            (Status.IMPLEMENTED, "virtual users log in either way; system accounts need ferryd to "
             "run as root (each session's file work runs as the user)"),
            "allow local (system) logins"),
    _option("lock_upload_files", BOOL, True, (ACCESS,), IMPLEMENTED,
            "write-lock uploads and share-lock downloads"),
    _option("log_ftp_protocol", BOOL, False, (LOG,), IMPLEMENTED,
            "log every FTP request and reply"),
    _option("ls_recurse_enable", BOOL, False, (FTP,), IMPLEMENTED,
            "allow ls -R"),
    _option("mdtm_write", BOOL, True, (FTP,), IMPLEMENTED,
            "allow MDTM with a time argument to set the modification time"),
    _option("no_anon_password", BOOL, False, (ACCESS,), IMPLEMENTED,
            "do not ask anonymous users for a password"),
    _option("no_log_lock", BOOL, False, (),
            (Status.NO_EFFECT, "ferryd writes its logs from one process and takes no file locks"),
            "do not lock log files while writing"),
    _option("one_process_model", BOOL, False, (),
            (Status.NO_EFFECT, "ferryd is one process serving every session by design"),
            "serve each session in a single process"),
    _option("passwd_chroot_enable", BOOL, False, (ACCESS,), IMPLEMENTED,
            "chroot at the /./ marker of the passwd home folder"),
    _option("pasv_addr_resolve", BOOL, False, (DATA,), IMPLEMENTED,
            "pasv_address is a host name, resolved at start"),
    _option("pasv_enable", BOOL, True, (DATA,), IMPLEMENTED,
            "allow PASV and EPSV"),
    _option("pasv_promiscuous", BOOL, False, (DATA,), IMPLEMENTED,
            "do not check that the passive data peer is the control peer"),
    _option("port_enable", BOOL, True, (DATA,), IMPLEMENTED,
            "allow PORT and EPRT"),
    _option("port_promiscuous", BOOL, False, (DATA,), IMPLEMENTED,
            "do not check that the PORT target is the client (allows FXP and bounce)"),
    _option("ptrace_sandbox", BOOL, False, (), SANDBOX,
            "experimental ptrace-based system call sandbox"),
    _option("require_cert", BOOL, False, (TLS,), IMPLEMENTED,
            "require a TLS client certificate"),
    _option("require_ssl_reuse", BOOL, True, (TLS,), IMPLEMENTED,
            "TLS data connections must resume the control connection's TLS session"),
    _option("run_as_launching_user", BOOL, False, (),
            (Status.NO_EFFECT, "ferryd always runs as the user that starts it"),
            "run as the invoking user instead of switching users"),
    _option("seccomp_sandbox", BOOL, True, (), SANDBOX,
            "seccomp-bpf system call filter on session processes"),
    _option("secure_email_list_enable", BOOL, False, (ACCESS,), IMPLEMENTED,
            "accept only the anonymous passwords in email_password_file"),
    _option("session_support", BOOL, False, (ACCESS,),
            (Status.IMPLEMENTED, "when ferryd runs as root, for system users: each FTP login "
             "and each SFTP or SCP channel is one session, held by a helper process; utmp is "
             "written only where the system keeps one"),
            "keep utmp/wtmp entries and a PAM session"),
    _option("setproctitle_enable", BOOL, False, (),
            (Status.NO_EFFECT, "sessions are tasks in one process, not processes to retitle"),
            "show the session status in the process title"),
    _option("ssl_enable", BOOL, False, (TLS,), IMPLEMENTED,
            "enable TLS (AUTH, PBSZ, PROT) on control and data connections"),
    _option("ssl_request_cert", BOOL, True, (TLS,), IMPLEMENTED,
            "ask for (not require) a TLS client certificate"),
    _option("ssl_sslv2", BOOL, False, (TLS,), IMPLEMENTED,
            "allow SSLv2"),
    _option("ssl_sslv3", BOOL, False, (TLS,), IMPLEMENTED,
            "allow SSLv3"),
    _option("ssl_tlsv1", BOOL, False, (TLS,), IMPLEMENTED,
            "allow TLS 1.0"),
    _option("ssl_tlsv11", BOOL, False, (TLS,), IMPLEMENTED,
            "allow TLS 1.1", aliases=("ssl_tlsv1_1",)),
    _option("ssl_tlsv12", BOOL, True, (TLS,), IMPLEMENTED,
            "allow TLS 1.2", aliases=("ssl_tlsv1_2",)),
    _option("ssl_tlsv13", BOOL, True, (TLS,), IMPLEMENTED,
            "allow TLS 1.3", aliases=("ssl_tlsv1_3",)),
    _option("strict_ssl_read_eof", BOOL, True, (TLS,), IMPLEMENTED,
            "TLS uploads must end with close_notify, not a bare FIN"),
    _option("strict_ssl_write_shutdown", BOOL, False, (TLS,), IMPLEMENTED,
            "TLS downloads must end with a TLS shutdown"),
    _option("syslog_enable", BOOL, False, (LOG,), IMPLEMENTED,
            "send the vsftpd log to syslog (FTP facility)"),
    _option("tcp_wrappers", BOOL, False, (),
            (Status.NO_EFFECT, "ferryd has no libwrap; use a firewall"),
            "apply hosts.allow and hosts.deny"),
    _option("text_userdb_names", BOOL, False, (FTP,), IMPLEMENTED,
            "show user and group names instead of numeric ids in listings"),
    _option("tilde_user_enable", BOOL, False, (FTP,), IMPLEMENTED,
            "resolve ~user paths"),
    _option("use_localtime", BOOL, False, (FTP, LOG), IMPLEMENTED,
            "listings, MDTM and logs in local time instead of GMT"),
    _option("use_sendfile", BOOL, True, (FTP,), IMPLEMENTED,
            "use sendfile() for downloads where the storage allows it"),
    _option("userlist_deny", BOOL, True, (ACCESS,), IMPLEMENTED,
            "userlist_file lists users to refuse (NO: the only users allowed)"),
    _option("userlist_enable", BOOL, False, (ACCESS,), IMPLEMENTED,
            "check userlist_file before asking for the password"),
    _option("validate_cert", BOOL, False, (TLS,), IMPLEMENTED,
            "TLS client certificates must validate against ca_certs_file"),
    _option("virtual_use_local_privs", BOOL, False, (ACCESS,), IMPLEMENTED,
            "guest users get local-user rights instead of anonymous ones"),
    _option("write_enable", BOOL, False, (ACCESS,), IMPLEMENTED,
            "allow commands that change the file system (STOR, DELE, RNFR, MKD, ...)"),
    _option("xferlog_enable", BOOL, False, (LOG,), IMPLEMENTED,
            "keep a transfer log"),
    _option("xferlog_std_format", BOOL, False, (LOG,), IMPLEMENTED,
            "write the transfer log in wu-ftpd xferlog format"),
    # ---- vsftpd 3.0.5: numeric options (20) ----
    _option("accept_timeout", NUM, 60, (DATA,), IMPLEMENTED,
            "seconds to wait for the client to connect to a passive port"),
    _option("anon_max_rate", NUM, 0, (ACCESS,), IMPLEMENTED,
            "bytes per second limit for anonymous users (0: none)"),
    _mode("anon_umask", 0o077, (ACCESS,), IMPLEMENTED,
          "umask for files anonymous users create"),
    _mode("chown_upload_mode", 0o600, (ACCESS,), IMPLEMENTED,
          "file mode of chowned anonymous uploads"),
    _option("connect_timeout", NUM, 60, (DATA,), IMPLEMENTED,
            "seconds for the client to accept an active (PORT) data connection"),
    _option("data_connection_timeout", NUM, 300, (DATA,), IMPLEMENTED,
            "longest stall of a data transfer, in seconds, before the client is dropped"),
    _option("delay_failed_login", NUM, 1, (FTP,), IMPLEMENTED,
            "seconds to wait before reporting a failed login"),
    _option("delay_successful_login", NUM, 0, (FTP,), IMPLEMENTED,
            "seconds to wait before a successful login"),
    _mode("file_open_mode", 0o666, (ACCESS,), IMPLEMENTED,
          "mode of uploaded files, before the umask"),
    _port("ftp_data_port", 20, (DATA,), IMPLEMENTED,
          "source port of active data connections (with connect_from_port_20)"),
    _option("idle_session_timeout", NUM, 300, (FTP,), IMPLEMENTED,
            "longest wait, in seconds, between two commands"),
    _port("listen_port", 21, (LISTEN,), IMPLEMENTED,
          "FTP control port"),
    _option("local_max_rate", NUM, 0, (ACCESS,), IMPLEMENTED,
            "bytes per second limit for each session (0: none)"),
    _mode("local_umask", 0o077, (ACCESS,), IMPLEMENTED,
          "umask for files and folders users create"),
    _option("max_clients", NUM, 2000, (LISTEN,), IMPLEMENTED,
            "most concurrent clients (0: no limit)"),
    _option("max_login_fails", NUM, 3, (FTP,), IMPLEMENTED,
            "failed logins before the session is closed"),
    _option("max_per_ip", NUM, 50, (LISTEN,), IMPLEMENTED,
            "most concurrent clients from one address (0: no limit)"),
    _port("pasv_max_port", 0, (DATA,), IMPLEMENTED,
          "highest passive port (0: 65535)"),
    _port("pasv_min_port", 5001, (DATA,), IMPLEMENTED,
          "lowest passive port (at least 1024 is used)"),
    _option("trans_chunk_size", NUM, 0, (FTP,), IMPLEMENTED,
            "transfer chunk size in bytes (0: automatic)"),
    # ---- vsftpd 3.0.5: string options (33) ----
    _option("anon_root", STR, None, (ACCESS,), IMPLEMENTED,
            "folder to change into after an anonymous login"),
    _option("banned_email_file", STR, "/etc/vsftpd.banned_emails", (ACCESS,), IMPLEMENTED,
            "banned anonymous passwords (deny_email_enable)"),
    _option("banner_file", STR, None, (FTP,), IMPLEMENTED,
            "file shown on connect (overrides ftpd_banner)"),
    _option("ca_certs_file", STR, None, (TLS,), IMPLEMENTED,
            "CA bundle for validating TLS client certificates"),
    _option("chown_username", STR, "root", (ACCESS,), AS_ROOT,
            "owner given to anonymous uploads (chown_uploads)"),
    _option("chroot_list_file", STR, "/etc/vsftpd.chroot_list", (ACCESS,), IMPLEMENTED,
            "the users for chroot_list_enable"),
    _option("cmds_allowed", STR, None, (FTP,), IMPLEMENTED,
            "comma list of the only commands allowed after login"),
    _option("cmds_denied", STR, None, (FTP,), IMPLEMENTED,
            "comma list of commands refused after login (wins over cmds_allowed)"),
    _option("deny_file", STR, None, (ACCESS,), IMPLEMENTED,
            "glob pattern(s), as {a,b}, of names that cannot be reached at all"),
    _option("dsa_cert_file", STR, None, (TLS,), IMPLEMENTED,
            "DSA certificate file"),
    _option("dsa_private_key_file", STR, None, (TLS,), IMPLEMENTED,
            "DSA private key file (default: inside dsa_cert_file)"),
    _option("email_password_file", STR, "/etc/vsftpd.email_passwords", (ACCESS,), IMPLEMENTED,
            "allowed anonymous passwords (secure_email_list_enable)"),
    _option("ftp_username", STR, "ftp", (ACCESS,), IMPLEMENTED,
            "system user for anonymous FTP; its home is the anonymous root"),
    _option("ftpd_banner", STR, None, (FTP,), IMPLEMENTED,
            "greeting text (default: ferryd's own)"),
    _option("guest_username", STR, "ftp", (ACCESS,), IMPLEMENTED,
            "system user guest logins map to"),
    _option("hide_file", STR, None, (ACCESS,), IMPLEMENTED,
            "glob pattern(s), as {a,b}, of names hidden from listings but still reachable"),
    _option("listen_address", STR, None, (LISTEN,), IMPLEMENTED,
            "IPv4 address to listen on (default: all)"),
    _option("listen_address6", STR, None, (LISTEN,), IMPLEMENTED,
            "IPv6 address to listen on (default: all)"),
    _option("local_root", STR, None, (ACCESS,), IMPLEMENTED,
            "folder to change into after login"),
    _option("message_file", STR, ".message", (FTP,), IMPLEMENTED,
            "name of the per-folder message file (dirmessage_enable)", nullable=False),
    _option("nopriv_user", STR, "nobody", (ACCESS,), IMPLEMENTED,
            "unprivileged user that ferryd's network side (everything that parses what "
            "clients send) runs as once started as root; not while it serves virtual users "
            "(their files are its own to write: it then stays root and says why)"),
    _option("pam_service_name", STR, "ftp", (ACCESS,), IMPLEMENTED,
            "PAM service name"),
    _option("pasv_address", STR, None, (DATA,), IMPLEMENTED,
            "IPv4 address (or host name with pasv_addr_resolve) announced in PASV replies"),
    _option("rsa_cert_file", STR, "/usr/share/ssl/certs/vsftpd.pem", (TLS,), IMPLEMENTED,
            "RSA certificate file (also the key when rsa_private_key_file is unset)"),
    _option("rsa_private_key_file", STR, None, (TLS,), IMPLEMENTED,
            "RSA private key file"),
    _option("secure_chroot_dir", STR, "/usr/share/empty", (), NO_CHROOTED_NETWORK_SIDE,
            "empty folder used as the jail of untrusted helper processes"),
    _option("ssl_ciphers", STR, "ECDHE-RSA-AES256-GCM-SHA384", (TLS,), IMPLEMENTED,
            "OpenSSL cipher list (empty: OpenSSL's DEFAULT)", nullable=False,
            empty_means="DEFAULT"),
    _option("ssl_sni_hostname", STR, None, (TLS,), IMPLEMENTED,
            "refuse TLS handshakes whose SNI host name differs"),
    _option("user_config_dir", STR, None, (ACCESS,), IMPLEMENTED,
            "folder of per-user option files named after the user"),
    _option("user_sub_token", STR, None, (ACCESS,), IMPLEMENTED,
            "token in the guest home replaced by the user name"),
    _option("userlist_file", STR, "/etc/vsftpd.user_list", (ACCESS,), IMPLEMENTED,
            "the user list for userlist_enable"),
    _option("vsftpd_log_file", STR, "/var/log/vsftpd.log", (LOG,), IMPLEMENTED,
            "vsftpd-format log file", nullable=False),
    _option("xferlog_file", STR, "/var/log/xferlog", (LOG,), IMPLEMENTED,
            "transfer log file", nullable=False),
    # ---- Fedora/RHEL additions ----
    _option("better_stou", BOOL, False, (), (Status.PLANNED, "FTP command set"),
            "STOU picks unpredictable file names", FEDORA),
    _option("bind_retries", NUM, 9, (), PASSIVE_POOL,
            "attempts to bind a free passive port", FEDORA),
    _option("dh_param_file", STR, None, (), FTPS_LATER,
            "Diffie-Hellman parameters file for TLS", FEDORA),
    _option("ecdh_param_file", STR, None, (), FTPS_LATER,
            "elliptic-curve parameters file for TLS", FEDORA),
    _option("log_die", BOOL, False, (), LOGGING_ISSUE,
            "send fatal session errors to syslog", FEDORA),
    _option("reverse_lookup_enable", BOOL, True, (ACCESS,),
            (Status.IMPLEMENTED, "for system users: the name is PAM's rhost and the wtmp "
             "host, used only when it resolves back to the address, as OpenSSH's UseDNS; "
             "looked up in a thread for at most 2 s; log lines always show the address"),
            "resolve the client address to a name for PAM", FEDORA),
    _option("userlist_log", BOOL, False, (ACCESS,), IMPLEMENTED,
            "log logins refused by the user list (userlist_enable) as FAIL LOGIN lines with "
            "the reason", FEDORA),
    _option("wc_logs_enable", BOOL, False, (), LOGGING_ISSUE,
            "keep multibyte characters in log lines (escape only unprintable bytes)", FEDORA),
    # ---- ferryd's own options ----
    _option("data_dir", STR, None, (STORE,), IMPLEMENTED,
            "folder for ferryd's own state: user database, generated keys, logs", FERRYD,
            nullable=False, default_text="./ferryd-data or $FERRYD_HOME, as ferryd serve picks"),
    _option("user_db", STR, None, (STORE,), IMPLEMENTED,
            "SQLite user database file", FERRYD,
            nullable=False, default_text="users.sqlite3 in data_dir"),
    _option("argon2_time_cost", NUM, 3, (STORE,), IMPLEMENTED,
            "argon2id passes for the password hashes ferryd makes (user add, passwd, and the "
            "upgrade of an older hash at login)", FERRYD, minimum=1, maximum=64),
    _option("argon2_memory_cost", NUM, 65536, (STORE,), IMPLEMENTED,
            "argon2id memory per hash, in KiB (65536: 64 MiB; each login being checked holds "
            "this much)", FERRYD, minimum=7168, maximum=4_194_304),
    _option("argon2_parallelism", NUM, 4, (STORE,), IMPLEMENTED,
            "argon2id lanes per hash", FERRYD, minimum=1, maximum=64),
    _port("implicit_ssl_port", 0, (LISTEN,), IMPLEMENTED,
          "an implicit-FTPS listener beside the listen_port one (0: none)", FERRYD),
    _option("max_line_length", NUM, 4096, (LISTEN,), IMPLEMENTED,
            "longest FTP control line accepted, in bytes", FERRYD, minimum=512),
    _option("cert_auto_generate", BOOL, False, (TLS,), IMPLEMENTED,
            "generate a self-signed certificate when rsa_cert_file does not exist", FERRYD),
    _option("sftp_enable", BOOL, False, (SFTP,), IMPLEMENTED,
            "serve SFTP (and SCP, see scp_enable) with the same users, permissions and "
            "storage as FTP", FERRYD),
    _port("sftp_port", 22, (SFTP,), IMPLEMENTED,
          "SFTP and SCP port (0: any free port, printed at start)", FERRYD),
    _option("sftp_listen_address", STR, None, (SFTP,), IMPLEMENTED,
            "address for SFTP to listen on (default: all IPv4 addresses, and IPv6 too with "
            "listen_ipv6=YES)", FERRYD),
    _option("sftp_host_key_file", STR, None, (SFTP,), IMPLEMENTED,
            "SSH host key files (OpenSSH or PEM private keys), comma-separated; unset: "
            "ed25519 and RSA keys in data_dir/ssh, made on first start (fingerprints "
            "printed; `ferryd hostkey generate` makes them ahead)", FERRYD),
    _option("scp_enable", BOOL, True, (SFTP,), IMPLEMENTED,
            "serve SCP (legacy `scp -O` and curl scp://) beside SFTP; NO refuses it with a "
            "message (modern scp uses SFTP and still works)", FERRYD),
    _option("sftp_password_auth", BOOL, True, (SFTP,), IMPLEMENTED,
            "allow SSH password (and keyboard-interactive) logins", FERRYD),
    _option("sftp_pubkey_auth", BOOL, True, (SFTP,), IMPLEMENTED,
            "allow SSH public-key logins with the keys of `ferryd user key-add`", FERRYD),
    _option("sftp_banner", STR, None, (SFTP,), IMPLEMENTED,
            "SSH banner shown before login (\\n for a new line)", FERRYD),
    _option("sftp_login_grace_time", NUM, 120, (SFTP,), IMPLEMENTED,
            "seconds an SSH client has from connecting to being logged in, as OpenSSH's "
            "LoginGraceTime; a client still in the handshake then is disconnected "
            "(0: no limit)", FERRYD),
    _option("pasv_address_map", STR, None, (DATA,), IMPLEMENTED,
            "passive address per client network, as NETWORK=ADDRESS,... (the most specific "
            "network containing the client wins; others get pasv_address)", FERRYD),
    _option("pasv_addr_refresh", NUM, 0, (DATA,), IMPLEMENTED,
            "seconds between re-resolving pasv_address with pasv_addr_resolve=YES "
            "(0: at start only)", FERRYD),
    _option("proxy_protocol_enable", BOOL, False, (LISTEN,), PROXY_FTP_ONLY,
            "read a PROXY protocol header (v1 or v2) from FTP control and passive data "
            "connections of proxy_protocol_trusted peers, so every per-address rule sees the "
            "real client (docs/nat.md)", FERRYD),
    _option("proxy_protocol_trusted", STR, None, (LISTEN,), PROXY_FTP_ONLY,
            "comma list of networks (the balancers) that must send a PROXY protocol header; "
            "a header from any other peer closes its connection", FERRYD),
    _option("upload_mode", STR, "atomic", (ACCESS,), IMPLEMENTED,
            "atomic: a new upload is written under a hidden name and renamed into place when "
            "complete and fsynced, so no consumer sees half a file (resumes with REST/APPE "
            "write in place); direct: write in place, as vsftpd", FERRYD,
            nullable=False, choices=("atomic", "direct")),
    _option("ban_enable", BOOL, False, (ACCESS,), IMPLEMENTED,
            "ban addresses with too many failed logins, over FTP and SFTP alike", FERRYD),
    _option("ban_max_failures", NUM, 10, (ACCESS,), IMPLEMENTED,
            "failed logins within ban_window that ban an address", FERRYD, minimum=1),
    _option("ban_window", NUM, 600, (ACCESS,), IMPLEMENTED,
            "seconds over which failed logins are counted", FERRYD, minimum=1),
    _option("ban_time", NUM, 3600, (ACCESS,), IMPLEMENTED,
            "seconds a ban lasts", FERRYD, minimum=1),
    _option("ban_allowlist", STR, None, (ACCESS,), IMPLEMENTED,
            "comma list of networks never banned, e.g. 10.0.0.0/8,127.0.0.1", FERRYD),
    _option("shutdown_grace", NUM, 30, (LISTEN,), IMPLEMENTED,
            "seconds running transfers may finish after SIGTERM", FERRYD),
    _option("max_pending_logins", NUM, 1000, (LISTEN,), IMPLEMENTED,
            "most FTP connections waiting to log in (0: no limit); beyond it, those waiting "
            "longest (over 2 s) are closed with 421, so connections that never log in "
            "(slowloris) hold at most half of max_clients' places", FERRYD),
    _option("log_format", STR, "vsftpd", (LOG,), IMPLEMENTED,
            "vsftpd: vsftpd's log lines; json: the same records as one JSON object per line "
            "(xferlog keeps its fixed format)", FERRYD,
            nullable=False, choices=("vsftpd", "json")),
)


OPTIONS: Mapping[str, OptionSpec] = MappingProxyType({spec.name: spec for spec in _TABLE})
"""Every option by canonical name, in table order."""

_BY_ANY_NAME: Mapping[str, OptionSpec] = MappingProxyType(
    {name: spec for spec in _TABLE for name in (spec.name, *spec.aliases)}
)

KNOWN_NAMES: tuple[str, ...] = tuple(_BY_ANY_NAME)
"""Every name the parser accepts: canonical names and aliases."""


def find_option(name: str) -> OptionSpec | None:
    """The option called `name` (a canonical name or an alias), or None."""
    return _BY_ANY_NAME.get(name)


def options_in_group(group: Group) -> tuple[OptionSpec, ...]:
    return tuple(spec for spec in _TABLE if group in spec.groups)


def format_value(spec: OptionSpec, value: OptionValue) -> str:
    """A value as it would be written in vsftpd.conf."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "YES" if value else "NO"
    if isinstance(value, int) and spec.octal and value:
        return f"0{value:o}"
    return str(value)
