"""`ferryd check-config`, `ferryd cert generate` and `ferryd serve` start-up errors and SIGHUP."""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import resource
import signal
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.functional.conftest import PLAIN_CONFIG, StartFerryd
from tests.functional.ferryd_process import ReusingFTP_TLS, insecure_client_context

FERRYD = [sys.executable, "-m", "ferryd.cli"]


def run(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FERRYD, *args], capture_output=True, text=True, timeout=60, cwd=cwd, input=stdin,
        env={**os.environ, "FERRYD_HOME": str(cwd / "home")},
    )


def test_check_config_accepts_the_seed_config_and_prints_settings(tmp_path: Path) -> None:
    config = tmp_path / "vsftpd.conf"
    config.write_text(
        "anonymous_enable=NO\nlocal_enable=YES\nwrite_enable=YES\nxferlog_enable=YES\n"
        "xferlog_std_format=NO\nascii_upload_enable=YES\nascii_download_enable=YES\n"
        "chroot_local_user=YES\nlisten=YES\nallow_writeable_chroot=YES\nuse_localtime=YES\n"
        "force_dot_files=YES\nssl_enable=NO\n"
    )
    result = run("check-config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "chroot_local_user=YES" in result.stdout.splitlines()
    assert "listen_port=21" in result.stdout.splitlines()


def test_check_config_names_file_line_and_suggestion(tmp_path: Path) -> None:
    config = tmp_path / "bad.conf"
    config.write_text("listen=YES\nssl_enabel=YES\n")
    result = run("check-config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{config}:2" in result.stderr
    assert "ssl_enable" in result.stderr


def test_serve_refuses_a_config_it_does_not_understand(tmp_path: Path) -> None:
    config = tmp_path / "bad.conf"
    config.write_text("listen=YES\nlisten_port=twenty-one\n")
    result = run("serve", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{config}:2" in result.stderr and "listen_port" in result.stderr
    assert "Traceback" not in result.stderr


def test_cert_generate_makes_one_pem_with_key_and_names(tmp_path: Path) -> None:
    out = tmp_path / "ferryd.pem"
    result = run("cert", "generate", "--out", str(out), "--cn", "exchange.example",
                 "--san", "203.0.113.10", "--days", "30", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    pem = out.read_bytes()
    assert b"PRIVATE KEY" in pem and b"BEGIN CERTIFICATE" in pem
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    certificate = x509.load_pem_x509_certificate(pem)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "exchange.example" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["203.0.113.10"]
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert datetime.timedelta(days=29) < lifetime < datetime.timedelta(days=31)
    printed = certificate.fingerprint(hashes.SHA256()).hex(":").upper()
    assert printed in result.stdout
    again = run("cert", "generate", "--out", str(out), cwd=tmp_path)
    assert again.returncode == 1 and "--force" in again.stderr


def _tls_config(cert: Path) -> str:
    return PLAIN_CONFIG + f"ssl_enable=YES\nrsa_cert_file={cert}\n"


def test_serve_names_a_missing_certificate(tmp_path: Path) -> None:
    config = tmp_path / "tls.conf"
    config.write_text(_tls_config(tmp_path / "nowhere.pem") + f"user_db={tmp_path}/u.db\n")
    result = run("serve", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "nowhere.pem" in result.stderr and "Traceback" not in result.stderr


def _write_expired(path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=20))
        .not_valid_after(now - datetime.timedelta(days=10))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
        + certificate.public_bytes(serialization.Encoding.PEM)
    )


def test_serve_names_an_expired_certificate(tmp_path: Path) -> None:
    cert = tmp_path / "old.pem"
    _write_expired(cert)
    config = tmp_path / "tls.conf"
    config.write_text(_tls_config(cert) + f"user_db={tmp_path}/u.db\n")
    result = run("serve", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "old.pem" in result.stderr and "expired" in result.stderr


def test_serve_names_a_key_that_does_not_match(tmp_path: Path, certificate: Path) -> None:
    other = tmp_path / "other.pem"
    run("cert", "generate", "--out", str(other), cwd=tmp_path)
    key_only = tmp_path / "other.key"
    key_only.write_text(other.read_text().split("-----BEGIN CERTIFICATE-----")[0])
    config = tmp_path / "tls.conf"
    config.write_text(
        _tls_config(certificate) + f"rsa_private_key_file={key_only}\nuser_db={tmp_path}/u.db\n"
    )
    result = run("serve", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "other.key" in result.stderr and "does not fit" in result.stderr


def _presented_fingerprint(host: str, port: int) -> str:
    with ReusingFTP_TLS(context=insecure_client_context()) as client:
        client.connect(host, port, timeout=30)
        client.auth()
        der = client.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
        assert der is not None
        return hashlib.sha256(der).hexdigest()


def test_sighup_reloads_the_certificate_for_new_connections(
    tmp_path: Path, start_ferryd: StartFerryd
) -> None:
    cert = tmp_path / "live.pem"
    assert run("cert", "generate", "--out", str(cert), cwd=tmp_path).returncode == 0
    with start_ferryd(_tls_config(cert)) as server:
        before = _presented_fingerprint(server.host, server.port)
        with ReusingFTP_TLS(context=insecure_client_context()) as running_session:
            running_session.connect(server.host, server.port, timeout=30)
            running_session.login("alice", "wonderland")
            assert run("cert", "generate", "--out", str(cert), "--force",
                       cwd=tmp_path).returncode == 0
            server.process.send_signal(signal.SIGHUP)

            assert server.wait_for_line(re.compile("SIGHUP: configuration, users and cert"), 30)
            after = _presented_fingerprint(server.host, server.port)
            assert running_session.voidcmd("NOOP").startswith("200")  # not dropped
        assert before != after
        expected = x509.load_pem_x509_certificate(cert.read_bytes())
        assert after == expected.fingerprint(hashes.SHA256()).hex()



def test_debug_ssl_logs_each_handshake(start_ferryd: StartFerryd, certificate: Path) -> None:
    with start_ferryd(_tls_config(certificate) + "debug_ssl=YES\n") as server:
        with ReusingFTP_TLS(context=insecure_client_context()) as client:
            client.connect(server.host, server.port, timeout=30)
            client.login("alice", "wonderland")
            client.prot_p()
            assert client.nlst() == []
        control = re.compile(r"TLS control connection from 127\.0\.0\.1: TLSv1\.3")
        assert server.wait_for_line(control, 10)
        assert server.wait_for_line(
            re.compile(r"TLS data connection from 127\.0\.0\.1: TLSv1\.3 \S+, session resumed"), 10
        )


def test_serve_takes_the_whole_open_file_limit_and_says_when_it_is_short(
    tmp_path: Path,
) -> None:
    """Started with a soft limit of 256 and a hard one of 4096, ferryd raises its own to 4096
    (each session holds a few descriptors) and warns that max_clients=2000 may need more."""
    def low_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 4096))

    conf = tmp_path / "ferryd.conf"
    conf.write_text(PLAIN_CONFIG + f"data_dir={tmp_path}/data\nmax_clients=2000\n")
    with subprocess.Popen(
        [sys.executable, "-m", "ferryd.cli", "serve", "--config", str(conf)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        preexec_fn=low_soft_limit,
    ) as process:
        try:
            lines = []
            assert process.stderr is not None
            for line in process.stderr:
                lines.append(line)
                if "listening ftp" in line:
                    break
            limits = Path(f"/proc/{process.pid}/limits").read_text()
            [row] = [row for row in limits.splitlines() if row.startswith("Max open files")]
            assert row.split()[3:5] == ["4096", "4096"]
            assert ("notice: the open-file limit (4096) is below what max_clients=2000 "
                    "sessions may need (8064): raise it (systemd: LimitNOFILE=8064; ulimit "
                    "-n) or lower max_clients\n") in "".join(
                        line.removeprefix("ferryd: ") for line in lines)
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
