"""The seed's cloud network, built for real: ferryd on a private address behind a NAT router
that forwards the control ports and the one passive port from a public address, clients on
the "internet" and inside the VNet, a client behind its own home NAT, and HAProxy in front
with the PROXY protocol. ferryd runs docs/examples/nat.conf, the file docs/nat.md explains,
with only addresses and file locations replaced (-oNAME=VALUE).

    internet (bridge) ─ outside   203.0.113.100-119   (20 clients, 20 addresses)
        │           └── home      203.0.113.50 ─ NAT ─ homepc 192.168.77.2
      router  wan0 203.0.113.1 (the VM's public address; DNAT 21, 990, 30000 -> server)
              wan0 203.0.113.2 (HAProxy: 21 send-proxy, 30000 send-proxy-v2 -> server)
              br0  10.99.0.1   ─ server 10.99.0.10 (ferryd), inside 10.99.0.20
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ferryd
from tests.functional.ferryd_process import RunningFerryd, add_user
from tests.functional.netns import NamespaceNetwork, unavailable_reason
from tests.functional.raw_ftp import wait_until

REPOSITORY = Path(__file__).resolve().parents[2]
NAT_CONF = REPOSITORY / "docs" / "examples" / "nat.conf"
PYTHONPATH = os.pathsep.join(
    [str(Path(ferryd.__file__).resolve().parents[1]), str(REPOSITORY),
     *filter(None, [os.environ.get("PYTHONPATH")])]
)

SERVER, INSIDE, ROUTER_LAN = "10.99.0.10", "10.99.0.20", "10.99.0.1"
PUBLIC, BALANCER = "203.0.113.1", "203.0.113.2"
OUTSIDE = [f"203.0.113.{100 + index}" for index in range(20)]
HOME, HOMEPC = "203.0.113.50", "192.168.77.2"
CONTROL, IMPLICIT, PASSIVE = 21, 990, 30000
HOME_PORTS = (40000, 40009)
USER, PASSWORD = "alice", "wonderland"

ROUTER_RULES = f"""
table ip ferryd_nat {{
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        iifname "wan0" ip daddr {PUBLIC} tcp dport {{ {CONTROL}, {IMPLICIT}, {PASSIVE} }} \\
            dnat to {SERVER}
    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan0" ip saddr 10.99.0.0/24 masquerade
    }}
    chain forward {{
        type filter hook forward priority filter; policy accept;
        iifname "wan0" ct state established,related accept
        iifname "wan0" ct status dnat accept
        iifname "wan0" drop
    }}
}}
"""

HOME_RULES = f"""
table ip ferryd_home {{
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        iifname "wan0" tcp dport {HOME_PORTS[0]}-{HOME_PORTS[1]} dnat to {HOMEPC}
    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan0" masquerade
    }}
}}
"""

HAPROXY_CFG = REPOSITORY / "docs" / "examples" / "haproxy.cfg"
NAT_HAPROXY_CONF = REPOSITORY / "docs" / "examples" / "nat-haproxy.conf"
# the documentation's addresses -> this network's
DOC_ADDRESSES = {"203.0.113.20": BALANCER, "10.0.0.5": ROUTER_LAN, "10.0.0.4": SERVER}


def with_test_addresses(text: str) -> str:
    for documented, here in DOC_ADDRESSES.items():
        text = text.replace(documented, here)
    return text


def option_lines(path: Path) -> dict[str, str]:
    """NAME=VALUE lines of a config fragment, as -oNAME=VALUE overrides."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    return {name: with_test_addresses(value) for name, value in pairs}


@pytest.fixture(scope="module")
def network() -> Iterator[NamespaceNetwork]:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"NAT tests need network namespaces: {reason}")
    net = NamespaceNetwork()
    try:
        build(net)
    except RuntimeError as exc:  # a kernel without veth, bridges or nftables' NAT
        net.close()
        pytest.skip(f"cannot build the namespace network here: {exc}")
    try:
        yield net
    finally:
        net.close()
        assert net.leftovers() == [], "namespaces left behind"


def build(net: NamespaceNetwork) -> None:
    """The network of the module docstring's picture."""
    for role in ("server", "inside", "router", "internet", "outside", "home", "homepc"):
        net.add(role)
    net.link("router", "to-srv", "server", "eth0")
    net.link("router", "to-in", "inside", "eth0")
    net.bridge("router", "br0", ["to-srv", "to-in"])
    net.link("router", "wan0", "internet", "p-router")
    net.link("outside", "eth0", "internet", "p-outside")
    net.link("home", "wan0", "internet", "p-home")
    net.bridge("internet", "br0", ["p-router", "p-outside", "p-home"])
    net.link("home", "lan0", "homepc", "eth0")

    net.ip("router", f"addr add {ROUTER_LAN}/24 dev br0")
    net.ip("router", f"addr add {PUBLIC}/24 dev wan0")
    net.ip("router", f"addr add {BALANCER}/24 dev wan0")
    net.ip("server", f"addr add {SERVER}/24 dev eth0")
    net.ip("server", f"route add default via {ROUTER_LAN}")
    net.ip("inside", f"addr add {INSIDE}/24 dev eth0")
    net.ip("inside", f"route add default via {ROUTER_LAN}")
    for address in OUTSIDE:  # no default route: the internet has no way to 10.99.0.0/24
        net.ip("outside", f"addr add {address}/24 dev eth0")
    net.ip("home", f"addr add {HOME}/24 dev wan0")
    net.ip("home", "addr add 192.168.77.1/24 dev lan0")
    net.ip("homepc", f"addr add {HOMEPC}/24 dev eth0")
    net.ip("homepc", "route add default via 192.168.77.1")
    for role in ("router", "home"):
        net.sysctl(role, "net.ipv4.ip_forward=1")
    net.nft("router", ROUTER_RULES)
    net.nft("home", HOME_RULES)


@contextlib.contextmanager
def nat_ferryd(
    net: NamespaceNetwork, tmp_path: Path, certificate: Path, overrides: dict[str, str]
) -> Iterator[RunningFerryd]:
    """ferryd serving docs/examples/nat.conf inside the server namespace."""
    folder = tmp_path / f"ferryd-{time.monotonic_ns()}"
    data_dir = folder / "data"
    data_dir.mkdir(parents=True)
    add_user(data_dir, NAT_CONF, USER, PASSWORD)
    settings = {
        "rsa_cert_file": str(certificate),
        "vsftpd_log_file": str(folder / "vsftpd.log"),
        "xferlog_file": str(folder / "xferlog"),
        "pasv_address": PUBLIC,
        "pasv_address_map": f"10.99.0.0/24={SERVER}",
        **overrides,
    }
    command = [*net.prefix("server"), sys.executable, "-m", "ferryd.cli", "serve",
               "--config", str(NAT_CONF),
               *(f"-o{name}={value}" for name, value in settings.items())]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=folder,
        env={**os.environ, "FERRYD_HOME": str(data_dir), "PYTHONPATH": PYTHONPATH},
    )
    server = RunningFerryd(process, NAT_CONF, data_dir)
    server.start_reading()
    try:
        server.wait_for_listeners(("ftp", "ftps-implicit"))
        yield server
    finally:
        status = server.stop()
        print(server.read_stderr())  # shown when the test fails
    assert status == 0, "ferryd did not stop cleanly:\n" + server.read_stderr()


def sessions(net: NamespaceNetwork, role: str, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run FTPS sessions (tests/functional/nat_clients.py) inside a namespace, all at once."""
    for index, spec in enumerate(specs):
        spec.setdefault("name", f"{role}-{index}.bin")
        spec.setdefault("kind", "explicit")
        spec.setdefault("user", USER)
        spec.setdefault("password", PASSWORD)
        spec.setdefault("port", IMPLICIT if spec["kind"] == "implicit" else CONTROL)
    done = subprocess.run(
        [*net.prefix(role), sys.executable, "-m", "tests.functional.nat_clients"],
        input=json.dumps(specs), capture_output=True, text=True, timeout=120,
        cwd=REPOSITORY, env={**os.environ, "PYTHONPATH": PYTHONPATH},
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    print(role, json.dumps(results, indent=1))
    return results


def one(net: NamespaceNetwork, role: str, **spec: Any) -> dict[str, Any]:
    return sessions(net, role, [spec])[0]


def assert_transferred(result: dict[str, Any]) -> None:
    assert result["ok"], result
    assert result["sha256_down"] == result["sha256_up"], result


def curl(
    net: NamespaceNetwork, role: str, *arguments: str, tls: tuple[str, ...] = ("--ssl-reqd",)
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*net.prefix(role), "curl", "--silent", "--show-error", *tls, "--insecure",
         "--max-time", "20", "--user", f"{USER}:{PASSWORD}", *arguments],
        capture_output=True, text=True, timeout=60,
    )


def test_pasv_without_pasv_address_fails_from_outside_and_epsv_works(
    network: NamespaceNetwork, tmp_path: Path, certificate: Path
) -> None:
    """The seed: PASV announces the private address, which the internet cannot reach."""
    with nat_ferryd(network, tmp_path, certificate,
                    {"pasv_address": "", "pasv_address_map": ""}) as server:
        failed = one(network, "outside", host=PUBLIC, mode="pasv")
        assert not failed["ok"]
        assert failed["replies"][0].startswith("227 Entering Passive Mode (10,99,0,10,117,48)")
        assert "unreachable" in failed["error"]
        assert_transferred(one(network, "outside", host=PUBLIC, mode="epsv"))
        assert_transferred(one(network, "inside", host=SERVER, mode="pasv"))

        (server.home(USER) / "hello.txt").write_text("over NAT\n")
        url = f"ftp://{PUBLIC}/hello.txt"
        pasv = curl(network, "outside", "--disable-epsv", "--no-ftp-skip-pasv-ip", url)
        assert pasv.returncode != 0, pasv
        assert "10.99.0.10" in pasv.stderr or pasv.returncode == 7, pasv
        epsv = curl(network, "outside", url)
        assert (epsv.returncode, epsv.stdout) == (0, "over NAT\n"), epsv


def test_pasv_address_and_the_map_serve_outside_and_inside_at_once(
    network: NamespaceNetwork, tmp_path: Path, certificate: Path
) -> None:
    with nat_ferryd(network, tmp_path, certificate, {"pasv_address_map": ""}):
        # pasv_address alone: the internet works, the VNet gets the public address, which
        # it cannot use (the router forwards only what comes in from the internet side)
        outside = one(network, "outside", host=PUBLIC, mode="pasv")
        assert_transferred(outside)
        assert outside["replies"][0].startswith("227 Entering Passive Mode (203,0,113,1,")
        inside = one(network, "inside", host=SERVER, mode="pasv")
        assert not inside["ok"] and "refused" in inside["error"], inside
    with nat_ferryd(network, tmp_path, certificate, {}):  # nat.conf as it is: both at once
        specs = [{"host": PUBLIC, "mode": "pasv", "source": OUTSIDE[0]},
                 {"host": PUBLIC, "mode": "pasv", "source": OUTSIDE[1], "kind": "implicit"}]
        outside_results = subprocess_pool(network, [("outside", specs),
                                                    ("inside", [{"host": SERVER,
                                                                 "mode": "pasv"}])])
        for result in outside_results["outside"]:
            assert_transferred(result)
            assert "(203,0,113,1," in result["replies"][0]
        for result in outside_results["inside"]:
            assert_transferred(result)
            assert "(10,99,0,10," in result["replies"][0]


def subprocess_pool(
    net: NamespaceNetwork, work: list[tuple[str, list[dict[str, Any]]]]
) -> dict[str, list[dict[str, Any]]]:
    """Client sessions in several namespaces at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(work)) as pool:
        futures = {role: pool.submit(sessions, net, role, specs) for role, specs in work}
        return {role: future.result() for role, future in futures.items()}


def test_active_mode_behind_the_clients_own_nat(
    network: NamespaceNetwork, tmp_path: Path, certificate: Path
) -> None:
    """PORT carries the client's private address: refused as a bounce by default, and
    unreachable when allowed (the seed's failure); announcing the public address works."""
    active = {"host": PUBLIC, "mode": "active", "active_port": HOME_PORTS[0]}
    with nat_ferryd(network, tmp_path, certificate, {}):
        private = one(network, "homepc", **active)
        assert not private["ok"]
        assert private["error"].startswith("error_perm: 500 Illegal PORT command"), private
        assert_transferred(one(network, "homepc", **active, announce=HOME))
        # the seed's first way round: stay on private addresses (inside the VNet)
        assert_transferred(one(network, "inside", host=SERVER, mode="active",
                               active_port=HOME_PORTS[0]))
    overrides = {"port_promiscuous": "YES"}
    curl_tls = curl_starts_tls_on_active_data()
    if not curl_tls:  # curl 7.87-7.88 (curl issue #10666): its check runs over plain FTP
        overrides |= {"force_local_logins_ssl": "NO", "force_local_data_ssl": "NO"}
    with nat_ferryd(network, tmp_path, certificate, overrides) as server:
        unreachable = one(network, "homepc", **active)
        assert not unreachable["ok"]
        assert unreachable["error"].startswith("error_temp: 425"), unreachable

        (server.home(USER) / "hello.txt").write_text("actively\n")
        url = f"ftp://{PUBLIC}/hello.txt"
        tls = ("--ssl-reqd",) if curl_tls else ()
        own = curl(network, "homepc", "--ftp-port", "-", url, tls=tls)
        assert own.returncode != 0, own  # 425: the server cannot reach 192.168.77.2
        public = curl(network, "homepc", "--ftp-port", f"{HOME}:{HOME_PORTS[0]}-{HOME_PORTS[1]}",
                      url, tls=tls)
        assert (public.returncode, public.stdout) == (0, "actively\n"), public


def curl_starts_tls_on_active_data() -> bool:
    """curl 7.87 and 7.88 never start TLS on an active-mode data connection (fixed in 8.0)."""
    version = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout
    match = re.match(r"curl (\d+)\.(\d+)", version)
    return match is None or (int(match[1]), int(match[2])) not in ((7, 87), (7, 88))


@pytest.mark.parametrize("kind", ["explicit", "implicit"])
def test_twenty_clients_share_the_single_passive_port(
    network: NamespaceNetwork, tmp_path: Path, certificate: Path, kind: str
) -> None:
    """The seed's pasv_min_port=pasv_max_port=30000: vsftpd's second session dies with
    `500 OOPS: vsf_sysutil_bind`; here 20 clients on 20 addresses transfer at once."""
    with nat_ferryd(network, tmp_path, certificate, {}) as server:
        specs = [{"host": PUBLIC, "mode": "pasv", "source": address, "kind": kind,
                  "size": 300_000 + index, "name": f"{kind}-{index}.bin"}
                 for index, address in enumerate(OUTSIDE)]
        results = sessions(network, "outside", specs)
        for result in results:
            assert_transferred(result)
            assert result["replies"][0].endswith("(203,0,113,1,117,48).")  # port 30000
        for spec, result in zip(specs, results, strict=True):
            stored = (server.home(USER) / spec["name"]).read_bytes()
            assert hashlib.sha256(stored).hexdigest() == result["sha256_up"]
        expected = [f'OK UPLOAD: Client "{address}"' for address in OUTSIDE]
        assert log_shows(server, expected)


HOLD_TWO_SESSIONS = """
import ftplib, json, sys
results = []
held = []
for source in sys.argv[2:]:
    client = ftplib.FTP()
    try:
        results.append(client.connect(sys.argv[1], 21, timeout=20, source_address=(source, 0)))
        held.append(client)
    except ftplib.all_errors as exc:
        results.append(str(exc))
for client in held:
    client.close()
print(json.dumps(results))
"""


def test_haproxy_in_front_with_the_proxy_protocol(
    network: NamespaceNetwork, tmp_path: Path, certificate: Path
) -> None:
    """Behind HAProxy every connection comes from the balancer; with the PROXY protocol the
    logs, max_per_ip and the passive-port matching see each real client."""
    if shutil.which("haproxy") is None:
        pytest.skip("no haproxy (Debian package haproxy)")
    config = tmp_path / "haproxy.cfg"
    config.write_text(with_test_addresses(HAPROXY_CFG.read_text()))
    haproxy = subprocess.Popen([*network.prefix("router"), "haproxy", "-db", "-f", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # docs/examples/nat-haproxy.conf, and a limit low enough to be seen
        overrides = {**option_lines(NAT_HAPROXY_CONF), "max_per_ip": "1"}
        assert overrides["proxy_protocol_trusted"] == ROUTER_LAN
        with nat_ferryd(network, tmp_path, certificate, overrides) as server:
            wait_for_port(network, "outside", BALANCER, CONTROL)
            specs = [{"host": BALANCER, "mode": mode, "source": address, "kind": kind}
                     for mode, address, kind in (("pasv", OUTSIDE[0], "explicit"),
                                                 ("epsv", OUTSIDE[1], "implicit"))]
            results = subprocess_pool(network, [
                ("outside", specs), ("inside", [{"host": SERVER, "mode": "pasv"}])])
            for result in results["outside"] + results["inside"]:
                assert_transferred(result)
            assert log_shows(server, [
                f'OK {event}: Client "{address}"' for address in (OUTSIDE[0], OUTSIDE[1], INSIDE)
                for event in ("LOGIN", "UPLOAD")])
            assert ROUTER_LAN not in (server.data_dir.parent / "vsftpd.log").read_text()

            held = subprocess.run(
                [*network.prefix("outside"), sys.executable, "-c", HOLD_TWO_SESSIONS, BALANCER,
                 OUTSIDE[2], OUTSIDE[2], OUTSIDE[3]],
                capture_output=True, text=True, timeout=60, check=True)
            first, second, other = json.loads(held.stdout)
            assert first.startswith("220") and other.startswith("220")
            assert second.startswith("421 There are too many connections from your internet")
            assert server.wait_for_line(
                re.compile(rf"{re.escape(OUTSIDE[2])} \(via proxy {ROUTER_LAN}\) refused"), 10)
    finally:
        haproxy.terminate()
        haproxy.wait(timeout=10)
        assert haproxy.stderr is not None
        haproxy.stderr.close()


def log_shows(server: RunningFerryd, lines: list[str]) -> bool:
    """Whether vsftpd.log comes to hold every line (a thread writes it beside the sessions)."""
    log = server.data_dir.parent / "vsftpd.log"
    return wait_until(lambda: log.exists() and all(line in log.read_text() for line in lines))


def wait_for_port(net: NamespaceNetwork, role: str, host: str, port: int) -> None:
    probe = (f"import socket,time\nfor _ in range(100):\n    try:\n"
             f"        socket.create_connection(({host!r}, {port}), 1).close(); break\n"
             f"    except OSError: time.sleep(0.1)\n")
    subprocess.run([*net.prefix(role), sys.executable, "-c", probe], check=True, timeout=30)

