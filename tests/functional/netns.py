"""Small test networks made of Linux network namespaces, veth pairs, bridges and nftables.

Every namespace gets a name unique to this test run (ferryd-<token>-<role>); close() ends the
processes still running inside them and deletes them, and with them every interface they hold.
Nothing is ever connected to the host's own network: the namespaces only reach each other.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Sequence


def unavailable_reason() -> str | None:
    """Why namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (run the suite as root, as CI does)"
    for tool, package in (("ip", "iproute2"), ("nft", "nftables")):
        if shutil.which(tool) is None:
            return f"no `{tool}` command (Debian package {package})"
    probe = f"ferryd-probe-{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` is not permitted here: {made.stderr.strip()}"
    try:
        nft = subprocess.run(["ip", "netns", "exec", probe, "nft", "list", "ruleset"],
                             capture_output=True, text=True)
        if nft.returncode != 0:
            return f"nftables does not work in a namespace here: {nft.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class NamespaceNetwork:
    """Namespaces by role ("server", "router", ...), wired with veth pairs and bridges."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(3)
        self.namespaces: dict[str, str] = {}

    def name(self, role: str) -> str:
        return self.namespaces[role]

    def add(self, role: str) -> str:
        name = f"ferryd-{self.token}-{role}"
        run(["ip", "netns", "add", name])
        self.namespaces[role] = name
        self.ip(role, "link set lo up")
        return name

    def ip(self, role: str, arguments: str) -> None:
        run(["ip", "-n", self.name(role), *arguments.split()])

    def sysctl(self, role: str, setting: str) -> None:
        self.exec(role, ["sysctl", "-qw", setting])

    def exec(self, role: str, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return run([*self.prefix(role), *command])

    def prefix(self, role: str) -> list[str]:
        """The argv prefix that runs a command inside the role's namespace."""
        return ["ip", "netns", "exec", self.name(role)]

    def link(self, role_a: str, if_a: str, role_b: str, if_b: str) -> None:
        """A veth pair between two namespaces, both ends up."""
        run(["ip", "-n", self.name(role_a), "link", "add", if_a, "type", "veth", "peer", "name",
             if_b, "netns", self.name(role_b)])
        self.ip(role_a, f"link set {if_a} up")
        self.ip(role_b, f"link set {if_b} up")

    def bridge(self, role: str, bridge: str, ports: Sequence[str]) -> None:
        self.ip(role, f"link add {bridge} type bridge")
        for port in ports:
            self.ip(role, f"link set {port} master {bridge}")
        self.ip(role, f"link set {bridge} up")

    def nft(self, role: str, rules: str) -> None:
        run([*self.prefix(role), "nft", "-f", "-"], input=rules)

    def close(self) -> None:
        """End what still runs inside (our own servers and clients), delete the namespaces."""
        for name in reversed(list(self.namespaces.values())):
            pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
            for pid in pids.stdout.split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), 9)
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.namespaces.clear()

    def leftovers(self) -> list[str]:
        """Namespaces of this network that still exist (none, after close())."""
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        return [line.split()[0] for line in listed.splitlines()
                if line.startswith(f"ferryd-{self.token}-")]


def run(command: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(command), capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): "
                           f"{done.stderr.strip() or done.stdout.strip()}")
    return done  # type: ignore[no-any-return]
