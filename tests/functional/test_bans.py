"""ban_enable: repeated failed logins, also over several connections, ban the address."""

from __future__ import annotations

import ftplib
import re

import pytest

from tests.functional.conftest import PLAIN_CONFIG, StartFerryd


def test_failures_over_many_connections_ban_the_address(start_ferryd: StartFerryd) -> None:
    config = PLAIN_CONFIG + "ban_enable=YES\nban_max_failures=3\nban_window=600\nban_time=600\n"
    with start_ferryd(config) as server:
        for _attempt in range(3):  # one failed login per connection
            with ftplib.FTP() as client:
                client.connect("127.0.0.1", server.port, timeout=30)
                with pytest.raises(ftplib.error_perm, match=r"^530"):
                    client.login("alice", "guess")
        with ftplib.FTP() as client, pytest.raises(ftplib.error_temp, match=r"^421"):
            client.connect("127.0.0.1", server.port, timeout=30)
        assert server.wait_for_line(re.compile(r"banned 127\.0\.0\.1 for 600 s"), 10)
        # another address is not affected, and the right password still works there
        with ftplib.FTP() as client:
            client.connect("127.0.0.1", server.port, timeout=30, source_address=("127.0.0.2", 0))
            assert client.login("alice", "wonderland").startswith("230")
