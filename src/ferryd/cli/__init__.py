"""`ferryd` command line: serve, check-config, user, cert."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ferryd.cli import cert as cert_command
from ferryd.cli import hostkey as hostkey_command
from ferryd.cli import user as user_command
from ferryd.cli.paths import default_data_dir
from ferryd.config import ConfigError, format_effective, load_config


def _add_config_arguments(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    if required:
        parser.add_argument("config", metavar="FILE", help="the vsftpd.conf-style file to check")
    else:
        parser.add_argument(
            "--config", "-c", metavar="FILE",
            help="vsftpd.conf-style configuration (default: the embedded default)",
        )
    parser.add_argument(
        "-o", dest="overrides", metavar="NAME=VALUE", action="append", default=[],
        help="set one option, over the file (repeatable), as vsftpd's -oNAME=VALUE",
    )


def _run_serve(args: argparse.Namespace) -> int:
    from ferryd.app import run_server  # imported late: `ferryd user` must not need asyncio

    try:
        settings = load_config(args.config, args.overrides, data_dir=default_data_dir())
    except ConfigError as exc:
        print(f"ferryd: {exc}", file=sys.stderr)
        return 2
    return run_server(
        settings, embedded=args.config is None,
        load=lambda: load_config(args.config, args.overrides, data_dir=default_data_dir()),
    )


def _run_check_config(args: argparse.Namespace) -> int:
    try:
        settings = load_config(args.config, args.overrides, data_dir=default_data_dir())
    except ConfigError as exc:
        print(f"ferryd: {exc}", file=sys.stderr)
        return 2
    for notice in settings.notices:
        print(f"# notice: {notice}")
    print(format_effective(settings))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ferryd",
        description="A secure file-exchange server: FTP, FTPS, SFTP and SCP in one process, "
        "configured by a vsftpd.conf-compatible file.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    serve = verbs.add_parser(
        "serve", help="run the server in the foreground",
        description="Run in the foreground, logging to stderr and the configured log files. "
        "SIGTERM or Ctrl-C stops accepting and lets transfers finish; SIGHUP reloads the TLS "
        "certificate.",
    )
    _add_config_arguments(serve)
    serve.set_defaults(handler=_run_serve)
    check = verbs.add_parser(
        "check-config", help="validate a configuration file and print the effective settings",
        description="Parse and validate FILE; print every effective setting; exit 0 when "
        "it is valid, 2 with each error (file, line, option, fix) when not.",
    )
    _add_config_arguments(check, required=True)
    check.set_defaults(handler=_run_check_config)
    user_command.add_parser(verbs)
    cert_command.add_parser(verbs)
    hostkey_command.add_parser(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # vsftpd spells overrides -oNAME=VALUE, glued; argparse wants them apart.
    arguments = [
        part for argument in arguments
        for part in (["-o", argument[2:]] if argument.startswith("-o") and len(argument) > 2
                     else [argument])
    ]
    args = build_parser().parse_args(arguments)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
