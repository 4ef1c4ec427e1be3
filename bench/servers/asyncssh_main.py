"""A bare asyncssh SFTP (and SCP) server: asyncssh's stock SFTPServer rooted in a folder.

    python bench/servers/asyncssh_main.py PORT_FILE ROOT HOST_KEY AUTHORIZED_KEYS

It listens on 127.0.0.1 port 0 and writes the port to PORT_FILE. Nothing of ferryd's; the one
addition to the stock server is an exit status when the SFTP session ends (OpenSSH's
sftp-server sends one, and modern scp fails without it)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import asyncssh


class _ExitingSftpServer(asyncssh.SFTPServer):
    def exit(self) -> None:
        if not self.channel.is_closing():
            self.channel.exit(0)


async def serve(port_file: Path, root: str, host_key: str, authorized_keys: str) -> None:
    def sftp_factory(chan: asyncssh.SSHServerChannel[bytes]) -> asyncssh.SFTPServer:
        return _ExitingSftpServer(chan, chroot=root.encode())

    acceptor = await asyncssh.listen(
        "127.0.0.1", 0, server_host_keys=[host_key], authorized_client_keys=authorized_keys,
        sftp_factory=sftp_factory, allow_scp=True, backlog=1024, config=None,
    )
    port_file.write_text(f"{acceptor.get_port()}\n")
    await acceptor.wait_closed()


def main() -> None:
    port_file, root, host_key, authorized_keys = sys.argv[1:5]
    asyncio.run(serve(Path(port_file), root, host_key, authorized_keys))


if __name__ == "__main__":
    main()
