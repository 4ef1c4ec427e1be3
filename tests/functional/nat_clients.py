"""FTPS client sessions run inside a test namespace: `python -m tests.functional.nat_clients`
reads a JSON list of sessions on stdin, runs them at once (one thread each) and prints a JSON
list of results. Each session logs in, uploads random bytes, downloads them back and reports
both SHA-256 hashes, or the error that stopped it.

A session: {"kind": "explicit"|"implicit", "host", "port", "source" (address to connect from,
or null), "user", "password", "mode": "pasv"|"epsv"|"active", "name", "size", and for active
mode "announce" (the address sent in PORT) and "active_port" (the port listened on)}.
PASV sessions trust the address in the 227 reply, as classic clients (lftp, FileZilla's
default, vsftpd's era) do; Python's ftplib and curl 7.74+ would quietly use the control
connection's address instead, which hides the very problem the tests show.
"""

from __future__ import annotations

import ftplib
import hashlib
import io
import json
import os
import socket
import sys
import threading
from typing import Any

from tests.functional.ferryd_process import (
    ImplicitFTP_TLS,
    ReusingFTP_TLS,
    insecure_client_context,
)

TIMEOUT = 20


class _Modes:
    """PASV/EPSV/PORT as the session asks, mixed into both FTPS client classes."""

    mode = "pasv"
    announce = ""
    active_port = 0
    replies: list[str]

    def makepasv(self) -> tuple[str, int]:
        if self.mode == "epsv":
            reply = self.sendcmd("EPSV")  # type: ignore[attr-defined]
            self.replies.append(reply)
            return ftplib.parse229(reply, self.sock.getpeername())  # type: ignore[attr-defined]
        reply = self.sendcmd("PASV")  # type: ignore[attr-defined]
        self.replies.append(reply)
        host, port = ftplib.parse227(reply)
        return host, port

    def makeport(self) -> socket.socket:
        listener = socket.create_server(("0.0.0.0", self.active_port))
        listener.settimeout(TIMEOUT)
        host = self.announce or self.sock.getsockname()[0]  # type: ignore[attr-defined]
        numbers = [*host.split("."), str(self.active_port // 256), str(self.active_port % 256)]
        try:
            self.replies.append(self.sendcmd("PORT " + ",".join(numbers)))  # type: ignore[attr-defined]
        except BaseException:
            listener.close()
            raise
        return listener


class ExplicitClient(_Modes, ReusingFTP_TLS):
    pass


class ImplicitClient(_Modes, ImplicitFTP_TLS):
    pass


def run_session(spec: dict[str, Any], barrier: threading.Barrier | None) -> dict[str, Any]:
    replies: list[str] = []
    result: dict[str, Any] = {"name": spec["name"], "replies": replies}
    source = (spec["source"], 0) if spec.get("source") else None
    payload = os.urandom(spec.get("size", 100_000))
    result["sha256_up"] = hashlib.sha256(payload).hexdigest()
    client: ExplicitClient | ImplicitClient
    try:
        if spec["kind"] == "implicit":
            client = ImplicitClient.__new__(ImplicitClient)
            ftplib.FTP_TLS.__init__(client, context=insecure_client_context())
            client.replies = replies
            client.connect(spec["host"], spec["port"], TIMEOUT, source)
        else:
            client = ExplicitClient(context=insecure_client_context())
            client.replies = replies
            client.connect(spec["host"], spec["port"], TIMEOUT, source)
            client.auth()
        client.mode = spec.get("mode", "pasv")
        client.announce = spec.get("announce", "")
        client.active_port = spec.get("active_port", 0)
        client.trust_server_pasv_ipv4_address = True
        client.set_pasv(client.mode != "active")
        try:
            client.login(spec["user"], spec["password"])
            client.prot_p()
            if barrier is not None:
                barrier.wait()
            client.storbinary(f"STOR {spec['name']}", io.BytesIO(payload))
            received = io.BytesIO()
            client.retrbinary(f"RETR {spec['name']}", received.write)
            result["sha256_down"] = hashlib.sha256(received.getvalue()).hexdigest()
            result["ok"] = True
        finally:
            client.close()
    except BaseException as exc:  # reported, not raised: the test decides what it means
        result["ok"] = False
        result["error"] = f"{type(exc).__name__}: {exc}"
        if barrier is not None:
            barrier.abort()
    return result


def main() -> None:
    sessions = json.load(sys.stdin)
    barrier = threading.Barrier(len(sessions), timeout=60) if len(sessions) > 1 else None
    results: list[dict[str, Any]] = [{} for _ in sessions]

    def work(index: int) -> None:
        results[index] = run_session(sessions[index], barrier)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(len(sessions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
