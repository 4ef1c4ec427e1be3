"""TLS for FTPS: certificates loaded and checked once, a fresh context per control connection.

A context per control connection binds require_ssl_reuse to *that* connection: TLS 1.2 session
caches and TLS 1.3 ticket keys belong to one SSLContext, so a data connection can only resume
the session its own control connection negotiated.

The certificate chain and key are read once (at start and on SIGHUP) into an anonymous
in-memory file (memfd) that every new context loads from: no per-connection file read, and
it keeps working after ferryd gives up root (app_privileges.py), when the key file itself
(root's, mode 0600) can no longer be opened.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import ssl
from dataclasses import dataclass

from cryptography import x509

from ferryd.config.settings import TlsSettings


class TlsSetupError(Exception):
    """A certificate or key that cannot be used; the text names the file and the fix."""


_VERSIONS = (
    ("ssl_tlsv1", ssl.TLSVersion.TLSv1),
    ("ssl_tlsv11", ssl.TLSVersion.TLSv1_1),
    ("ssl_tlsv12", ssl.TLSVersion.TLSv1_2),
    ("ssl_tlsv13", ssl.TLSVersion.TLSv1_3),
)


@dataclass(frozen=True)
class _Material:
    cert_file: str
    key_file: str
    chain_fd: int | None
    """The in-memory copy of chain and key (None where memfd is unavailable: the files)."""
    ca_pem: str | None
    minimum: ssl.TLSVersion
    maximum: ssl.TLSVersion
    ciphers: str
    verify_mode: ssl.VerifyMode
    ca_file: str | None
    sni_hostname: str | None


def allowed_versions(tls: TlsSettings) -> tuple[ssl.TLSVersion, ssl.TLSVersion, list[str]]:
    """The contiguous version range to offer, and notices about what could not be honoured."""
    notices: list[str] = []
    enabled = [version for name, version in _VERSIONS if getattr(tls, name)]
    if tls.ssl_sslv2 or tls.ssl_sslv3:
        notices.append("ssl_sslv2/ssl_sslv3: SSL 2 and 3 are broken and never offered")
    if not enabled:
        raise TlsSetupError(
            "ssl_enable=YES but every TLS version is off: set ssl_tlsv12=YES or ssl_tlsv13=YES"
        )
    top = enabled[-1]
    order = [version for _, version in _VERSIONS]
    bottom = top
    for version in reversed(order[: order.index(top)]):
        if version not in enabled:
            break
        bottom = version
    skipped = [v for v in enabled if v < bottom]
    if skipped:
        notices.append(
            f"TLS versions are offered as one range; {bottom.name}..{top.name} is used and "
            f"{', '.join(v.name for v in skipped)} (below a disabled version) is not offered"
        )
    if bottom < ssl.TLSVersion.TLSv1_2:
        notices.append(
            f"{bottom.name} is allowed by the config, but this OpenSSL's security level may "
            "still refuse it; TLS 1.2 and 1.3 always work"
        )
    return bottom, top, notices


def _check_certificate(cert_file: str, key_file: str) -> None:
    try:
        with open(cert_file, "rb") as handle:
            pem = handle.read()
    except OSError as exc:
        raise TlsSetupError(
            f"{cert_file}: cannot read the certificate ({exc.strerror}); create one with "
            f"`ferryd cert generate --out {cert_file}` or fix rsa_cert_file"
        ) from exc
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise TlsSetupError(f"{cert_file}: no PEM certificate in this file") from exc
    now = datetime.datetime.now(datetime.UTC)
    if certificate.not_valid_after_utc < now:
        raise TlsSetupError(
            f"{cert_file}: the certificate expired on "
            f"{certificate.not_valid_after_utc:%Y-%m-%d}; renew it (`ferryd cert generate`)"
        )
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        probe.load_cert_chain(cert_file, key_file)
    except ssl.SSLError as exc:  # before OSError: SSLError is one
        raise TlsSetupError(
            f"{key_file}: the private key does not fit the certificate {cert_file} or is "
            f"unreadable ({exc.reason}); set rsa_private_key_file to the matching key"
        ) from exc
    except OSError as exc:
        raise TlsSetupError(f"{key_file}: cannot read the private key ({exc.strerror})") from exc


class TlsProvider:
    """Builds server contexts for control and data connections from the TLS options."""

    def __init__(self, tls: TlsSettings) -> None:
        self._settings = tls
        self._material, self.notices = self._load(tls)
        self._replaced: _Material | None = None  # kept open: a context may be loading it
        self.new_context()  # fail now, at start-up, on a bad cipher list or CA file

    def reload(self) -> None:
        """SIGHUP: re-read certificate and key; on error the old ones stay in use."""
        previous = self._material
        self._material, _ = self._load(self._settings)
        try:
            self.new_context()
        except TlsSetupError:
            _release(self._material)
            self._material = previous
            raise
        _release(self._replaced)
        self._replaced = previous

    @staticmethod
    def _load(tls: TlsSettings) -> tuple[_Material, list[str]]:
        cert_file = tls.rsa_cert_file or tls.dsa_cert_file
        if not cert_file:
            raise TlsSetupError("ssl_enable=YES needs rsa_cert_file (a PEM certificate)")
        key_file = (
            tls.rsa_private_key_file if tls.rsa_cert_file else tls.dsa_private_key_file
        ) or cert_file
        _check_certificate(cert_file, key_file)
        minimum, maximum, notices = allowed_versions(tls)
        if tls.require_cert:
            if not tls.ca_certs_file:
                raise TlsSetupError("require_cert=YES needs ca_certs_file (the CAs to trust)")
            verify_mode = ssl.CERT_REQUIRED
        elif tls.ssl_request_cert and tls.ca_certs_file:
            verify_mode = ssl.CERT_OPTIONAL
        else:
            verify_mode = ssl.CERT_NONE
        if verify_mode is not ssl.CERT_NONE and not tls.validate_cert:
            notices.append(
                "validate_cert=NO: ferryd still validates client certificates against "
                "ca_certs_file (OpenSSL through Python cannot accept unverified ones)"
            )
        material = _Material(
            cert_file=cert_file, key_file=key_file, chain_fd=_in_memory(cert_file, key_file),
            ca_pem=_read_ca_file(tls.ca_certs_file), minimum=minimum, maximum=maximum,
            ciphers=tls.ssl_ciphers, verify_mode=verify_mode, ca_file=tls.ca_certs_file,
            sni_hostname=tls.ssl_sni_hostname,
        )
        return material, notices

    @property
    def cert_file(self) -> str:
        return self._material.cert_file

    def new_context(self) -> ssl.SSLContext:
        """A fresh server context: one per control connection, shared with its data ones."""
        material = self._material
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = material.minimum
        context.maximum_version = material.maximum
        try:
            if material.ciphers and material.ciphers != "PROFILE=SYSTEM":
                context.set_ciphers(material.ciphers)
        except ssl.SSLError as exc:
            raise TlsSetupError(
                f"ssl_ciphers={material.ciphers}: OpenSSL knows none of these ciphers"
            ) from exc
        if material.chain_fd is None:
            context.load_cert_chain(material.cert_file, material.key_file)
        else:
            context.load_cert_chain(f"/proc/self/fd/{material.chain_fd}")
        context.options |= ssl.OP_NO_RENEGOTIATION
        context.verify_mode = material.verify_mode
        if material.ca_file:
            try:
                context.load_verify_locations(cadata=material.ca_pem)
            except (ValueError, ssl.SSLError) as exc:
                raise TlsSetupError(f"{material.ca_file}: cannot load CA certificates") from exc
        if material.sni_hostname:
            expected = material.sni_hostname.lower()

            def check_sni(
                _obj: ssl.SSLObject, name: str | None, _context: ssl.SSLContext
            ) -> int | None:
                if name is not None and name.lower() != expected:
                    return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
                return None

            context.sni_callback = check_sni
        return context


def _in_memory(cert_file: str, key_file: str) -> int | None:
    """A private in-memory copy of certificate chain and key, readable by this process
    whoever it runs as (the memfd is reachable only through this process); None where memfd
    is unavailable."""
    try:
        with open(cert_file, "rb") as handle:
            pem = handle.read()
        if key_file != cert_file:
            with open(key_file, "rb") as handle:
                pem += b"\n" + handle.read()
        fd = os.memfd_create("ferryd-tls", os.MFD_CLOEXEC)
    except (OSError, AttributeError):
        return None
    try:
        os.write(fd, pem)
    except OSError:
        os.close(fd)
        return None
    return fd


def _release(material: _Material | None) -> None:
    if material is not None and material.chain_fd is not None:
        with contextlib.suppress(OSError):
            os.close(material.chain_fd)


def _read_ca_file(ca_file: str | None) -> str | None:
    if not ca_file:
        return None
    try:
        with open(ca_file, encoding="ascii", errors="replace") as handle:
            return handle.read()
    except OSError as exc:
        raise TlsSetupError(f"{ca_file}: cannot read the CA certificates ({exc.strerror})") from exc
