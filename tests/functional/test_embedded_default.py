"""`ferryd serve` with no config: the TLS-only embedded default of design.md section 1."""

from __future__ import annotations

import ftplib
import hashlib
import io
import re
from pathlib import Path

import pytest

from tests.functional.ferryd_process import (
    ImplicitFTP_TLS,
    ReusingFTP_TLS,
    free_port,
    insecure_client_context,
    running_ferryd,
)

# Only the ports are overridden (no fixed ports in tests); everything else is the default.
PORT_OVERRIDES = ("listen_port=0", "pasv_min_port=0", "pasv_max_port=0", "sftp_port=0")


def test_first_start_prints_password_and_fingerprint_and_serves_ftps(tmp_path: Path) -> None:
    implicit = free_port()
    with running_ferryd(
        tmp_path, None, {}, want=("ftp", "ftps-implicit"),
        overrides=(*PORT_OVERRIDES, f"implicit_ssl_port={implicit}"),
    ) as server:
        output = "".join(server.stderr_lines)
        password = re.search(r"created user 'ferryd' with password (\S+)", output)
        printed = re.search(r"fingerprint ([0-9A-F:]{95})", output)
        assert password and printed, output
        assert server.ports["ftps-implicit"] == implicit

        # Plain-text logins are refused: TLS is required by default.
        with ftplib.FTP() as plain:
            plain.connect(server.host, server.ports["ftp"], timeout=30)
            with pytest.raises(ftplib.error_perm, match=r"^530"):
                plain.login("ferryd", password.group(1))

        payload = b"deposit\n" * 1000
        with ReusingFTP_TLS(context=insecure_client_context()) as client:
            client.connect(server.host, server.ports["ftp"], timeout=30)
            client.login("ferryd", password.group(1))
            der = client.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
            # Data must be protected too: PROT C transfers are refused.
            with pytest.raises(ftplib.error_perm, match=r"^5"):
                client.retrlines("LIST")
            client.prot_p()
            client.storbinary("STOR drop.txt", io.BytesIO(payload))
            received = io.BytesIO()
            client.retrbinary("RETR drop.txt", received.write)
        assert received.getvalue() == payload
        assert der is not None
        assert hashlib.sha256(der).hexdigest().upper() == printed.group(1).replace(":", "")
        home = server.data_dir / "home" / "ferryd"
        assert (home / "drop.txt").read_bytes() == payload

        # Implicit FTPS on its own port, same users and files.
        with ImplicitFTP_TLS(server.host, implicit) as client:
            client.login("ferryd", password.group(1))
            client.prot_p()
            assert client.nlst() == ["drop.txt"]
