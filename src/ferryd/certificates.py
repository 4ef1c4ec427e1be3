"""Self-signed certificates with the `cryptography` library: the seed's openssl command in one
step (`openssl req -x509 -nodes -newkey rsa:2048 -days 3650`), key and certificate in one PEM."""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class CertificateRequest:
    common_name: str
    alternative_names: Sequence[str] = ()
    days: int = 3650
    key_type: str = "rsa"  # "rsa" (2048 bits, as the seed) or "ecdsa" (P-256)


def _subject_alternative_names(names: Sequence[str]) -> list[x509.GeneralName]:
    general: list[x509.GeneralName] = []
    for name in names:
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            general.append(x509.DNSName(name))
    return general


def generate_self_signed(request: CertificateRequest) -> tuple[bytes, bytes]:
    """(private key PEM, certificate PEM)."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if request.key_type == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif request.key_type == "ecdsa":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unknown key type {request.key_type!r}: use rsa or ecdsa")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, request.common_name)])
    now = datetime.datetime.now(datetime.UTC)
    names = list(dict.fromkeys([request.common_name, *request.alternative_names]))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=request.days))
        .add_extension(x509.SubjectAlternativeName(_subject_alternative_names(names)), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


def write_private(path: str, data: bytes) -> None:
    """Write a file only its owner can read, creating the folder."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def write_certificate(
    request: CertificateRequest, cert_path: str, key_path: str | None = None
) -> str:
    """Write key+certificate (one PEM unless key_path); returns the SHA-256 fingerprint."""
    key_pem, cert_pem = generate_self_signed(request)
    if key_path:
        write_private(key_path, key_pem)
        write_private(cert_path, cert_pem)
    else:
        write_private(cert_path, key_pem + cert_pem)
    return fingerprint(cert_pem)


def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 fingerprint as clients show it: AB:CD:..."""
    certificate = x509.load_pem_x509_certificate(cert_pem)
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def default_names() -> list[str]:
    return [socket.gethostname(), "localhost", "127.0.0.1", "::1"]
