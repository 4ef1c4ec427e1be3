"""The servers the harness runs, in the order it runs them."""

from __future__ import annotations

from bench.servers.asyncssh_server import AsyncsshServer
from bench.servers.base import ServerKind
from bench.servers.ferryd_server import FerrydServer
from bench.servers.openssh_server import OpensshServer
from bench.servers.proftpd_server import ProftpdServer
from bench.servers.pureftpd_server import PureFtpdServer
from bench.servers.pyftpdlib_server import PyftpdlibServer
from bench.servers.vsftpd_server import VsftpdServer

FERRYD = "ferryd"


def all_server_kinds() -> list[ServerKind]:
    return [FerrydServer(), VsftpdServer(), ProftpdServer(), PureFtpdServer(), PyftpdlibServer(),
            OpensshServer(), AsyncsshServer()]
