"""The seed's four FTPS configurations (../shared/seed/README.md), run unchanged but for the
address, the ports and the certificate path, each driven by ftplib, curl, lftp and rclone:
login, uploads and downloads with hashes, listings, resume. Then the TLS refusals: cleartext
logins and data when TLS is forced, data connections that do not resume the control
connection's TLS session, old TLS versions, plaintext on the implicit port, plaintext
pipelined behind AUTH TLS, and the certificate a client is shown.

ACTIVE variants keep connect_from_port_20=YES: as root, data connections come from port 20.
"""

from __future__ import annotations

import contextlib
import ftplib
import io
import json
import os
import select
import socket
import ssl
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.functional.client_tools import (
    PASSWORD,
    RCLONE_FLAGS,
    SEED_VARIANTS,
    USER,
    MiB,
    SeedFTP,
    SeedServer,
    client_binary,
    client_version,
    file_sha256,
    parse_ls_lines,
    rclone_env,
    rclone_obscure,
    rclone_sent,
    run_client,
    seed_ftplib,
    seed_server,
    write_payload,
)
from tests.functional.ferryd_process import ReusingFTP_TLS, free_port, insecure_client_context
from tests.functional.raw_ftp import RawFtp

VARIANTS = list(SEED_VARIANTS)
PASSIVE_VARIANTS = [v for v in VARIANTS if v.startswith("pasv")]
ACTIVE_VARIANTS = [v for v in VARIANTS if v.startswith("active")]
IS_ROOT = os.geteuid() == 0

Seeds = Callable[..., SeedServer]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory, certificate: Path) -> Iterator[Seeds]:
    """seeds(variant, extra="", key=None): a server per (key or variant), started on first
    use and kept for the module, so each configuration starts once."""
    running: dict[str, SeedServer] = {}
    with contextlib.ExitStack() as stack:

        def get(variant: str, extra: str = "", key: str | None = None,
                pasv_min: int = 0, pasv_max: int = 0) -> SeedServer:
            name = key or variant
            if name not in running:
                running[name] = stack.enter_context(seed_server(
                    tmp_path_factory.mktemp(name), variant, certificate, extra=extra,
                    pasv_min=pasv_min, pasv_max=pasv_max,
                ))
            return running[name]

        yield get


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("seed-payload") / "1MiB.bin"
    return path, write_payload(path, MiB)


def certificate_der(certificate: Path) -> bytes:
    text = certificate.read_text()
    start = text.index("-----BEGIN CERTIFICATE-----")
    end = text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    return ssl.PEM_cert_to_DER_cert(text[start:end])


# -- ftplib ------------------------------------------------------------------------------------
@pytest.mark.parametrize("tls", ["TLSv1_2", "TLSv1_3"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_ftplib(seeds: Seeds, payload: tuple[Path, str], variant: str, tls: str) -> None:
    seed = seeds(variant)
    source, digest = payload
    data = source.read_bytes()
    name = f"ftplib-{tls}.bin"
    with seed_ftplib(seed, tls) as client:
        assert client.storbinary(f"STOR {name}", io.BytesIO(data)).startswith("226")
        assert file_sha256(seed.home / name) == digest
        received = io.BytesIO()
        client.retrbinary(f"RETR {name}", received.write)
        assert received.getvalue() == data
        client.storbinary(f"STOR empty-{tls}.bin", io.BytesIO(b""))
        assert (seed.home / f"empty-{tls}.bin").stat().st_size == 0

        lines: list[str] = []
        client.retrlines("LIST", lines.append)
        listing = parse_ls_lines("\n".join(lines))
        assert listing[name] == MiB and listing[f"empty-{tls}.bin"] == 0
        facts = dict(client.mlsd())
        assert facts[name]["type"] == "file" and int(facts[name]["size"]) == MiB

        # resume both ways: REST before RETR, REST before STOR
        tail = io.BytesIO()
        client.retrbinary(f"RETR {name}", tail.write, rest=654_321)
        assert tail.getvalue() == data[654_321:]
        (seed.home / f"resumed-{tls}.bin").write_bytes(data[:400_000])
        client.storbinary(f"STOR resumed-{tls}.bin", io.BytesIO(data[400_000:]), rest=400_000)
        assert file_sha256(seed.home / f"resumed-{tls}.bin") == digest

        expected_version = "TLSv1.2" if tls == "TLSv1_2" else "TLSv1.3"
        assert client.data_tls and all(
            version == expected_version and reused for version, reused in client.data_tls
        ), client.data_tls
        assert all(der == certificate_der(seed.certificate) for der in client.data_certs)
        if seed.active and IS_ROOT:
            # connect_from_port_20=YES: every data connection comes from port 20
            assert {port for _host, port in client.data_peers} == {20}


# -- curl --------------------------------------------------------------------------------------
CURL_IS_OLD = (7, 87, 0) <= (client_version("curl") or (99,)) < (8, 0, 0)
CURL_ACTIVE_TLS_XFAIL = pytest.mark.xfail(
    CURL_IS_OLD, strict=True,
    reason="curl 7.87-7.88 never starts TLS on an active-mode data connection (curl issue "
           "#10666, fixed in 8.0.0 by PR #10669): after 'Connection accepted from server' it "
           "sends no ClientHello, and the server, rightly, waits for one",
)
CURL_CASES = [
    pytest.param("pasv-explicit", "epsv", "1.3"),
    pytest.param("pasv-explicit", "pasv", "1.2"),
    pytest.param("pasv-implicit", "epsv", "1.2"),
    pytest.param("pasv-implicit", "pasv", "1.3"),
    pytest.param("active-explicit", "eprt", "1.3", marks=CURL_ACTIVE_TLS_XFAIL),
    pytest.param("active-implicit", "port", "1.3", marks=CURL_ACTIVE_TLS_XFAIL),
]
CURL_MODES = {
    "epsv": ([], "EPSV"),
    "pasv": (["--disable-epsv"], "PASV"),
    "eprt": (["--ftp-port", "127.0.0.1"], "EPRT"),
    "port": (["--ftp-port", "127.0.0.1", "--disable-eprt"], "PORT"),
}


@pytest.mark.parametrize(("variant", "mode", "tls"), CURL_CASES)
def test_curl(
    seeds: Seeds, payload: tuple[Path, str], tmp_path: Path, variant: str, mode: str, tls: str,
) -> None:
    binary = client_binary("curl")
    seed = seeds(variant)
    source, digest = payload
    options, wire = CURL_MODES[mode]
    scheme = "ftps" if seed.implicit else "ftp"
    base = f"{scheme}://127.0.0.1:{seed.port}/"
    tls_options = ["-k", "--tls-max", tls] + ([] if seed.implicit else ["--ssl-reqd"])
    # an active-mode stall (see CURL_ACTIVE_TLS_XFAIL) should cost seconds, not minutes
    max_time = "5" if seed.active else "60"

    def curl(*args: str) -> subprocess.CompletedProcess[str]:
        result = run_client(
            [binary, "-q", "-sS", "-v", "--user", f"{USER}:{PASSWORD}", "--connect-timeout",
             "10", "--max-time", max_time, *tls_options, *options, *args],
            home=tmp_path / "home", timeout=90,
        )
        assert f"> {wire}" in result.stderr, result.stderr
        assert f"SSL connection using TLSv{tls}" in result.stderr, result.stderr
        return result

    name = f"curl-{mode}-{tls}.bin"
    curl("-T", str(source), base + name)
    assert file_sha256(seed.home / name) == digest
    target = tmp_path / "back.bin"
    curl("-o", str(target), base + name)
    assert file_sha256(target) == digest
    assert parse_ls_lines(curl(base).stdout)[name] == MiB

    # resume both ways: -C - continues a partial download (REST) and a partial upload (APPE)
    target.write_bytes(source.read_bytes()[:300_000])
    assert "> REST 300000" in curl("-C", "-", "-o", str(target), base + name).stderr
    assert file_sha256(target) == digest
    (seed.home / f"partial-{name}").write_bytes(source.read_bytes()[:500_000])
    assert "> APPE" in curl("-C", "-", "-T", str(source), base + f"partial-{name}").stderr
    assert file_sha256(seed.home / f"partial-{name}") == digest


# -- lftp --------------------------------------------------------------------------------------
LFTP_CASES = [
    ("pasv-explicit", "epsv"), ("pasv-explicit", "pasv"),
    ("pasv-implicit", "epsv"), ("pasv-implicit", "pasv"),
    ("active-explicit", "port"), ("active-implicit", "port"),
]
LFTP_MODES = {
    "epsv": ("set ftp:passive-mode on; set ftp:prefer-epsv yes", "EPSV"),
    "pasv": ("set ftp:passive-mode on; set ftp:prefer-epsv no", "PASV"),
    "port": ("set ftp:passive-mode off", "PORT"),
}
LFTP_TLS = ("set ftp:ssl-force yes; set ftp:ssl-protect-data yes; "
            "set ssl:verify-certificate no")


@pytest.mark.parametrize(("variant", "mode"), LFTP_CASES)
def test_lftp(
    seeds: Seeds, payload: tuple[Path, str], tmp_path: Path, variant: str, mode: str,
) -> None:
    binary = client_binary("lftp")
    seed = seeds(variant)
    source, digest = payload
    data = source.read_bytes()
    settings, wire = LFTP_MODES[mode]
    scheme = "ftps" if seed.implicit else "ftp"
    name = f"lftp-{mode}.bin"
    target, partial = tmp_path / "back.bin", tmp_path / "partial.bin"
    partial.write_bytes(data[:123_457])
    (seed.home / f"partial-{name}").write_bytes(data[:400_000])
    script = (
        "set cmd:fail-exit yes; set net:max-retries 1; set net:reconnect-interval-base 1; "
        f"set net:timeout 15; set xfer:clobber on; debug 5; {LFTP_TLS}; {settings}; "
        f"open -u {USER},{PASSWORD} {scheme}://127.0.0.1:{seed.port}; "
        f"put {source} -o {name}; get {name} -o {target}; ls; "
        f"get -c {name} -o {partial}; put -c {source} -o partial-{name}"
    )
    result = run_client([binary, "-c", script], home=tmp_path / "home", timeout=90)
    log = result.stderr
    assert f"---> {wire}" in log, log
    assert ("---> AUTH TLS" in log) != seed.implicit, log
    assert "---> PROT P" in log, log
    assert "<--- 426" not in log, log  # lftp would retry with REST and hide a broken transfer
    assert file_sha256(seed.home / name) == digest
    assert file_sha256(target) == digest
    assert parse_ls_lines(result.stdout)[name] == MiB
    assert "---> REST 123457" in log and "---> REST 400000" in log, log
    assert file_sha256(partial) == digest
    assert file_sha256(seed.home / f"partial-{name}") == digest


# -- rclone ------------------------------------------------------------------------------------
RCLONE_CASES = [
    ("pasv-explicit", "tls1.3", "epsv"), ("pasv-explicit", "tls1.2", "pasv"),
    ("pasv-implicit", "tls1.3", "pasv"), ("pasv-implicit", "tls1.2", "epsv"),
]


def rclone_for(seed: SeedServer, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    binary = client_binary("rclone")
    home = tmp_path / "home"
    env = rclone_env(home, "127.0.0.1", seed.port, rclone_obscure(binary, home))
    tls_flag = "--ftp-tls" if seed.implicit else "--ftp-explicit-tls"

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_client([binary, *RCLONE_FLAGS, tls_flag, "--ftp-no-check-certificate", *args],
                          home=home, env=env, timeout=90, check=check)

    return run


@pytest.mark.parametrize(("variant", "tls", "mode"), RCLONE_CASES)
def test_rclone(
    seeds: Seeds, payload: tuple[Path, str], tmp_path: Path, variant: str, tls: str, mode: str,
) -> None:
    """TLS 1.3 must work without --ftp-disable-tls13 (vsftpd needs that workaround)."""
    seed = seeds(variant)
    rclone = rclone_for(seed, tmp_path)
    source, digest = payload
    flags = (["--ftp-disable-tls13"] if tls == "tls1.2" else []) + (
        ["--ftp-disable-epsv"] if mode == "pasv" else [])
    name = f"rclone-{tls}-{mode}.bin"
    sent = rclone_sent(rclone(*flags, "copyto", str(source), f"ferry:{name}").stderr)
    assert file_sha256(seed.home / name) == digest
    assert "PROT P" in sent and mode.upper() in sent, sent
    assert ("AUTH TLS" in sent) != seed.implicit, sent

    target = tmp_path / "back.bin"
    rclone(*flags, "copyto", f"ferry:{name}", str(target))
    assert file_sha256(target) == digest
    entries = {e["Name"]: e for e in json.loads(rclone(*flags, "lsjson", "ferry:").stdout)}
    assert entries[name]["Size"] == MiB
    text = "".join(f"line {n:06d}\n" for n in range(50_000))
    (seed.home / f"ranged-{tls}.txt").write_text(text)
    assert rclone(*flags, "cat", "--offset", "300001", f"ferry:ranged-{tls}.txt").stdout == (
        text[300_001:])


@pytest.mark.parametrize("variant", ACTIVE_VARIANTS)
def test_rclone_is_refused_cleanly_by_active_only_configs(
    seeds: Seeds, tmp_path: Path, variant: str,
) -> None:
    """rclone's FTP backend is passive-only; pasv_enable=NO must refuse it with a reply that
    says why, not leave it hanging."""
    seed = seeds(variant)
    rclone = rclone_for(seed, tmp_path)
    started = time.monotonic()
    result = rclone("lsjson", "ferry:", check=False)
    assert result.returncode != 0
    assert time.monotonic() - started < 30
    assert "pasv_enable=NO" in result.stderr, result.stderr


# -- the seed's single passive port ---------------------------------------------------------
def test_seed_single_passive_port_30000_is_shared(seeds: Seeds, payload: tuple[Path, str]) -> None:
    """pasv_min_port=pasv_max_port=30000 as the seed has it: two concurrent sessions both get
    their transfers through the one port."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 30000))
        except OSError as exc:
            pytest.skip(f"port 30000 is busy here ({exc.strerror})")
    seed = seeds("pasv-explicit", key="pasv-explicit-30000", pasv_min=30000, pasv_max=30000)
    source, digest = payload
    data = source.read_bytes()
    results: dict[str, object] = {}

    def session(label: str) -> None:
        try:
            with seed_ftplib(seed) as client:
                client.storbinary(f"STOR single-{label}.bin", io.BytesIO(data))
                received = io.BytesIO()
                client.retrbinary(f"RETR single-{label}.bin", received.write)
                results[label] = (received.getvalue() == data,
                                  {port for _host, port in client.data_peers})
        except Exception as exc:  # reported by the assertion below
            results[label] = exc

    threads = [threading.Thread(target=session, args=(label,)) for label in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=100)
    assert results == {"a": (True, {30000}), "b": (True, {30000})}
    for label in ("a", "b"):
        assert file_sha256(seed.home / f"single-{label}.bin") == digest


# -- TLS refusals ------------------------------------------------------------------------------
FORCED = "force_local_logins_ssl=YES\nforce_local_data_ssl=YES\nssl_tlsv1=NO\n"


@pytest.fixture(scope="module")
def forced(seeds: Seeds) -> SeedServer:
    """The PASV+explicit seed with the two commented-out force_* lines switched on, TLS 1.0
    off, and ferryd's extra implicit listener beside the explicit one."""
    return seeds("pasv-explicit", key="forced",
                 extra=FORCED + f"implicit_ssl_port={free_port()}\n")


def test_cleartext_login_is_refused_with_530(forced: SeedServer) -> None:
    with RawFtp("127.0.0.1", forced.server.ports["ftp"]) as raw:
        assert raw.greeting.code == 220
        reply = raw.cmd(f"USER {USER}")
        assert reply.code == 530, reply
        assert raw.cmd(f"PASS {PASSWORD}").code in (503, 530)


def test_cleartext_data_is_refused(forced: SeedServer) -> None:
    client = ReusingFTP_TLS(context=insecure_client_context())
    try:
        client.connect("127.0.0.1", forced.server.ports["ftp"], timeout=20)
        client.auth()
        client.login(USER, PASSWORD)
        assert client.voidcmd("PBSZ 0").startswith("200")
        with pytest.raises(ftplib.error_perm, match=r"^(522|534)"):
            client.sendcmd("PROT C")
        # never having said PROT P, the data connection would be clear: refused before it opens
        with pytest.raises(ftplib.error_perm, match=r"^(522|534)"):
            client.nlst()
        client.prot_p()
        client.storbinary("STOR forced.txt", io.BytesIO(b"secret\n"))
        assert client.nlst() == ["forced.txt"]
        client.quit()
    finally:
        client.close()


def _stock_nlst_reply(client: ftplib.FTP_TLS) -> str:
    """NLST over stock FTP_TLS (no session reuse); the reply that ends it."""
    try:
        client.nlst()
    except ftplib.error_perm as exc:
        return str(exc)
    except (ssl.SSLError, OSError, EOFError):
        try:
            return client.getresp()
        except ftplib.error_perm as exc:
            return str(exc)
    return "226 (the listing was sent)"


@pytest.mark.parametrize("tls", ["TLSv1_2", "TLSv1_3"])
def test_data_connection_without_session_reuse_is_refused_with_522(
    seeds: Seeds, tls: str,
) -> None:
    """The seed leaves require_ssl_reuse at its default, YES; stock ftplib does not resume."""
    seed = seeds("pasv-explicit")
    context = insecure_client_context()
    context.maximum_version = getattr(ssl.TLSVersion, tls)
    client = ftplib.FTP_TLS(context=context)
    try:
        client.connect("127.0.0.1", seed.port, timeout=20)
        client.auth()
        client.login(USER, PASSWORD)
        client.prot_p()
        reply = _stock_nlst_reply(client)
        assert reply.startswith("522"), reply
        client.quit()
    finally:
        client.close()


def test_stock_ftplib_works_when_require_ssl_reuse_is_off(seeds: Seeds) -> None:
    seed = seeds("pasv-explicit", extra="require_ssl_reuse=NO\n", key="no-reuse")
    client = ftplib.FTP_TLS(context=insecure_client_context())
    try:
        client.connect("127.0.0.1", seed.port, timeout=20)
        client.auth()
        client.login(USER, PASSWORD)
        client.prot_p()
        client.storbinary("STOR stock.bin", io.BytesIO(b"x" * 100_000))
        received = io.BytesIO()
        client.retrbinary("RETR stock.bin", received.write)
        assert received.getvalue() == b"x" * 100_000
        assert client.nlst() == ["stock.bin"]
        client.quit()
    finally:
        client.close()


def client_hello(maximum: ssl.TLSVersion) -> bytes:
    """The bytes of a ClientHello offering TLS 1.0 up to `maximum`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = maximum
    obj = context.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO())
    with contextlib.suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def first_bytes_back(sock: socket.socket, hello: bytes) -> bytes:
    """Send a ClientHello; what comes back before the server stops (b"" if it just closes)."""
    sock.sendall(hello)
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while len(received) < 5:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    return received


@pytest.mark.parametrize(("maximum", "legacy_version"), [
    pytest.param("TLSv1", b"\x03\x01", id="TLS1.0"),
    pytest.param("TLSv1_1", b"\x03\x02", id="TLS1.1"),
    pytest.param("TLSv1_2", b"\x03\x03", id="TLS1.2-control"),
])
@pytest.mark.parametrize("port", ["implicit", "explicit"])
def test_old_tls_client_hello_is_refused(
    forced: SeedServer, maximum: str, legacy_version: bytes, port: str,
) -> None:
    hello = client_hello(getattr(ssl.TLSVersion, maximum))
    assert hello[:1] == b"\x16" and hello[9:11] == legacy_version  # what we claim to send
    if port == "implicit":
        with socket.create_connection(("127.0.0.1", forced.server.implicit_port), 10) as sock:
            answer = first_bytes_back(sock, hello)
    else:
        with RawFtp("127.0.0.1", forced.server.ports["ftp"]) as raw:
            assert raw.cmd("AUTH TLS").code == 234
            answer = first_bytes_back(raw.sock, hello)
    if maximum == "TLSv1_2":
        assert answer[:1] == b"\x16", answer  # a ServerHello: the server does speak TLS 1.2
    else:
        # refused: an alert (0x15) or a plain close, never a handshake record
        assert answer[:1] in (b"", b"\x15"), answer


def test_the_configured_certificate_is_presented(forced: SeedServer) -> None:
    expected = certificate_der(forced.certificate)
    pem = ssl.get_server_certificate(("127.0.0.1", forced.server.implicit_port), timeout=10)
    assert ssl.PEM_cert_to_DER_cert(pem) == expected
    client = SeedFTP()
    try:
        client.connect("127.0.0.1", forced.server.ports["ftp"], timeout=20)
        client.auth()
        assert isinstance(client.sock, ssl.SSLSocket)
        assert client.sock.getpeercert(binary_form=True) == expected
        client.login(USER, PASSWORD)
        client.prot_p()
        client.nlst()
        assert client.data_certs == [expected]
        client.quit()
    finally:
        client.close()


def test_plaintext_on_the_implicit_port_is_closed(forced: SeedServer) -> None:
    with socket.create_connection(("127.0.0.1", forced.server.implicit_port), 10) as sock:
        started = time.monotonic()
        sock.sendall(b"USER alice\r\n")
        try:
            answer = sock.recv(4096)
        except ConnectionResetError:
            answer = b""
        assert not answer.startswith(b"220"), answer
        with contextlib.suppress(ConnectionResetError):
            while answer:
                answer = sock.recv(4096)
        assert time.monotonic() - started < 10


def test_plaintext_pipelined_after_auth_tls_closes_the_connection(forced: SeedServer) -> None:
    with RawFtp("127.0.0.1", forced.server.ports["ftp"]) as raw:
        raw.send_raw(b"AUTH TLS\r\nUSER alice\r\n")
        assert raw.reply().code == 234
        assert raw.closed_by_server()


def test_tls13_upload_data_connection_carries_no_session_ticket(seeds: Seeds) -> None:
    """After the TLS 1.3 handshake of an upload's data connection the server must send
    nothing: curl, lftp and Go (rclone) never read that connection, so a NewSessionTicket
    left unread makes their kernel answer close() with a RST, and the server sees
    ECONNRESET instead of the end of the upload: 426 and a lost file (curl issue #6149)."""
    seed = seeds("pasv-explicit")
    client = SeedFTP(context=insecure_client_context())
    try:
        client.connect("127.0.0.1", seed.port, timeout=20)
        client.auth()
        client.login(USER, PASSWORD)
        client.prot_p()
        conn = client.transfercmd("STOR ticket-probe.bin")
        try:
            assert isinstance(conn, ssl.SSLSocket) and conn.version() == "TLSv1.3"
            readable, _, _ = select.select([conn], [], [], 0.5)
            assert not readable, "the server sent TLS records (session tickets) on the upload"
            conn.sendall(b"probe")
            conn.unwrap()
        finally:
            conn.close()
        assert client.voidresp().startswith("226")
        client.quit()
    finally:
        client.close()
