"""The address PASV announces: pasv_address, a resolved name, or one per client network."""

from __future__ import annotations

import ftplib

from tests.functional.conftest import PLAIN_CONFIG, StartFerryd


def _announced(port: int, source: str) -> str:
    with ftplib.FTP() as client:
        client.connect("127.0.0.1", port, timeout=30, source_address=(source, 0))
        client.login("alice", "wonderland")
        host, _port = ftplib.parse227(client.sendcmd("PASV"))
        assert client.sendcmd("EPSV").startswith("229 Entering Extended Passive Mode (|||")
        return host


def test_address_per_client_network(start_ferryd: StartFerryd) -> None:
    config = PLAIN_CONFIG + (
        "pasv_address=192.0.2.1\n"
        "pasv_address_map=127.0.0.2/32=10.9.8.7,127.0.0.0/30=10.0.0.3\n"
    )
    with start_ferryd(config) as server:
        assert _announced(server.port, "127.0.0.2") == "10.9.8.7"  # the most specific wins
        assert _announced(server.port, "127.0.0.1") == "10.0.0.3"
        assert _announced(server.port, "127.0.0.9") == "192.0.2.1"  # no network: pasv_address


def test_pasv_address_as_a_host_name(start_ferryd: StartFerryd) -> None:
    config = PLAIN_CONFIG + "pasv_address=localhost\npasv_addr_resolve=YES\npasv_addr_refresh=60\n"
    with start_ferryd(config) as server:
        assert _announced(server.port, "127.0.0.1") == "127.0.0.1"


def test_bad_map_stops_the_start(start_ferryd: StartFerryd) -> None:
    config = PLAIN_CONFIG + "pasv_address_map=10.0.0.0/8:10.0.0.5\n"
    try:
        with start_ferryd(config):
            raise AssertionError("ferryd started with a malformed pasv_address_map")
    except RuntimeError as exc:
        assert "pasv_address_map" in str(exc) and "NETWORK=IPV4ADDRESS" in str(exc)
