"""`ferryd hostkey generate`: SSH host keys for SFTP and SCP, as `ssh-keygen -A` makes them."""

from __future__ import annotations

import argparse
import os
import sys

from ferryd.cli.paths import default_data_dir
from ferryd.sftp.host_keys import (
    DEFAULT_HOST_KEYS,
    HostKeyError,
    default_folder,
    generate_host_key,
)

_TYPES = {"ed25519": "ssh-ed25519", "rsa": "ssh-rsa"}


def add_parser(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hostkey = verbs.add_parser("hostkey", help="SSH host keys for SFTP and SCP")
    actions = hostkey.add_subparsers(dest="hostkey_verb", metavar="ACTION", required=True)
    generate = actions.add_parser(
        "generate", help="make SSH host keys (ed25519 and RSA 3072 by default)",
        description="Write OpenSSH host keys (private key mode 0600, public key beside it as "
        ".pub) and print their SHA-256 fingerprints. `ferryd serve` makes the same keys on "
        "first start when sftp_host_key_file is unset; use this to make them ahead, or to "
        "replace them with --force.",
    )
    generate.add_argument(
        "--dir", default=None,
        help="folder for ssh_host_ed25519_key and ssh_host_rsa_key "
        "(default: <data folder>/ssh, where `ferryd serve` looks)",
    )
    generate.add_argument("--out", default=None,
                          help="write one key to this file instead (needs --type)")
    generate.add_argument("--type", choices=(*_TYPES, "all"), default="all",
                          help="key type (default: all, i.e. ed25519 and rsa)")
    generate.add_argument("--force", action="store_true", help="overwrite existing keys")
    generate.set_defaults(handler=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    if args.out and args.type == "all":
        print("ferryd: --out writes one key: choose it with --type ed25519 or --type rsa",
              file=sys.stderr)
        return 2
    if args.out:
        targets = [(args.out, _TYPES[args.type])]
    else:
        folder = args.dir or default_folder(default_data_dir())
        wanted = set(_TYPES.values()) if args.type == "all" else {_TYPES[args.type]}
        targets = [
            (os.path.join(folder, name), algorithm)
            for algorithm, name in DEFAULT_HOST_KEYS if algorithm in wanted
        ]
    for path, _algorithm in targets:
        if os.path.exists(path) and not args.force:
            print(f"ferryd: {path} exists; use --force to replace it", file=sys.stderr)
            return 1
    for path, algorithm in targets:
        try:
            key = generate_host_key(path, algorithm, force=args.force)
        except HostKeyError as exc:
            print(f"ferryd: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {path} and {path}.pub")
        print(f"{key.algorithm} fingerprint {key.fingerprint}")
    return 0
