"""pyftpdlib as benchmarked: its stock asynchronous FTPServer (one process, one I/O loop) and
TLS_FTPHandler over pyOpenSSL, plus an implicit-TLS listener in the same loop.

The only additions: an authorizer that verifies the same argon2id hash ferryd uses (pyftpdlib's
DummyAuthorizer compares plaintext), and a handler subclass that starts TLS before the banner
for the implicit port. Run as `python pyftpdlib_main.py HOME CERT USER ARGON2_HASH`; prints
`listening explicit PORT implicit PORT` on stderr.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from OpenSSL import SSL
from pyftpdlib.authorizers import (  # type: ignore[import-untyped]
    AuthenticationFailed,
    DummyAuthorizer,
)
from pyftpdlib.handlers import TLS_FTPHandler  # type: ignore[import-untyped]
from pyftpdlib.ioloop import IOLoop  # type: ignore[import-untyped]
from pyftpdlib.servers import FTPServer  # type: ignore[import-untyped]

BACKLOG = 1024


class Argon2idAuthorizer(DummyAuthorizer):  # type: ignore[misc]
    """DummyAuthorizer whose stored password is an argon2id hash (the one ferryd is given)."""

    hasher = PasswordHasher()

    def validate_authentication(self, username: str, password: str, handler: Any) -> None:
        del handler
        try:
            stored = self.user_table[username]["pwd"]
            self.hasher.verify(stored, password)
        except (KeyError, VerificationError, InvalidHashError) as exc:
            raise AuthenticationFailed("Authentication failed.") from exc


class ImplicitTlsHandler(TLS_FTPHandler):  # type: ignore[misc]
    """TLS from the first byte: secure the socket, then send the banner over TLS."""

    def handle(self) -> None:
        self.secure_connection(self.ssl_context)
        super().handle()


def main(argv: list[str]) -> int:
    home, cert, user, argon2_hash, idle_timeout = argv
    logging.basicConfig(level=logging.WARNING)  # no per-command logging, as for the others
    authorizer = Argon2idAuthorizer()
    authorizer.add_user(user, argon2_hash, home, perm="elradfmwMT")
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.use_certificate_chain_file(cert)
    context.use_privatekey_file(cert)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_NO_RENEGOTIATION)
    for handler in (TLS_FTPHandler, ImplicitTlsHandler):
        handler.authorizer = authorizer
        handler.ssl_context = context
        handler.timeout = int(idle_timeout)
        handler.banner = "pyftpdlib ready."
        handler.tls_control_required = False
        handler.tls_data_required = False
    ioloop = IOLoop.instance()
    servers = [
        FTPServer(("127.0.0.1", 0), handler, ioloop=ioloop, backlog=BACKLOG)
        for handler in (TLS_FTPHandler, ImplicitTlsHandler)
    ]
    for server in servers:
        server.max_cons = 0  # no limit (default 512)
        server.max_cons_per_ip = 0
    ports = [server.address[1] for server in servers]
    print(f"listening explicit {ports[0]} implicit {ports[1]}", file=sys.stderr, flush=True)
    try:
        ioloop.loop()
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
