"""Fixtures for functional tests: a certificate, ferryd servers with users, system users."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from ferryd.certificates import CertificateRequest, write_certificate
from tests.functional.ferryd_process import PLAIN_CONFIG, RunningFerryd, running_ferryd
from tests.functional.system_accounts import Accounts, made_accounts


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One PEM with key and certificate, as the seed's openssl command makes."""
    path = tmp_path_factory.mktemp("tls") / "ferryd.pem"
    write_certificate(
        CertificateRequest(common_name="localhost", alternative_names=["127.0.0.1", "::1"]),
        str(path),
    )
    return path


StartFerryd = Callable[..., AbstractContextManager[RunningFerryd]]


@pytest.fixture
def start_ferryd(tmp_path: Path) -> StartFerryd:
    """start_ferryd(config_text, users={"alice": "pw"}, want=("ftp",)) -> context manager."""
    counter = iter(range(1000))

    def start(
        config_text: str = PLAIN_CONFIG, users: dict[str, str] | None = None,
        want: tuple[str, ...] = ("ftp",),
    ) -> AbstractContextManager[RunningFerryd]:
        folder = tmp_path / f"server{next(counter)}"
        folder.mkdir()
        chosen = {"alice": "wonderland"} if users is None else users
        return running_ferryd(folder, config_text, chosen, want=want)

    return start


@pytest.fixture
def plain_server(start_ferryd: StartFerryd) -> Iterator[RunningFerryd]:
    with start_ferryd() as server:
        yield server


@pytest.fixture(scope="module")
def accounts() -> Iterator[Accounts]:
    """Real system users (useradd), made for each test module that asks and removed after it:
    tests/functional/system_accounts.py."""
    with made_accounts() as made:
        yield made
