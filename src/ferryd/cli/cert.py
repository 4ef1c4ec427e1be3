"""`ferryd cert generate`: a self-signed certificate, as the seed's openssl command makes."""

from __future__ import annotations

import argparse
import os
import sys

from ferryd.certificates import CertificateRequest, default_names, write_certificate
from ferryd.cli.paths import default_data_dir


def add_parser(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cert = verbs.add_parser("cert", help="TLS certificates for FTPS")
    actions = cert.add_subparsers(dest="cert_verb", metavar="ACTION", required=True)
    generate = actions.add_parser(
        "generate", help="make a self-signed certificate (key and certificate in one PEM)",
        description="The seed's `openssl req -x509 -nodes -newkey rsa:2048 -days 3650` in one "
        "step: key and certificate in one PEM file, or two files with --key-out.",
    )
    generate.add_argument("--out", default=None,
                          help="PEM file to write (default: <data folder>/tls/ferryd.pem)")
    generate.add_argument("--key-out", default=None,
                          help="write the key to this file instead of into --out")
    generate.add_argument("--cn", default=None, help="common name (default: this host's name)")
    generate.add_argument("--san", action="append", default=[],
                          help="subject alternative name, a DNS name or an IP (repeatable)")
    generate.add_argument("--days", type=int, default=3650, help="validity (default 3650)")
    generate.add_argument("--key-type", choices=("rsa", "ecdsa"), default="rsa",
                          help="rsa (2048 bits, default) or ecdsa (P-256)")
    generate.add_argument("--force", action="store_true", help="overwrite an existing file")
    generate.set_defaults(handler=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    out = args.out or os.path.join(default_data_dir(), "tls", "ferryd.pem")
    if args.days <= 0:
        print("ferryd: --days must be positive", file=sys.stderr)
        return 2
    for path in filter(None, (out, args.key_out)):
        if os.path.exists(path) and not args.force:
            print(f"ferryd: {path} exists; use --force to replace it", file=sys.stderr)
            return 1
    names = default_names()
    request = CertificateRequest(
        common_name=args.cn or names[0],
        alternative_names=args.san or ([] if args.cn else names[1:]),
        days=args.days, key_type=args.key_type,
    )
    printed = write_certificate(request, out, args.key_out)
    print(f"wrote {out}" + (f" and {args.key_out}" if args.key_out else ""))
    print(f"SHA-256 fingerprint {printed}")
    return 0
