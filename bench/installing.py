"""Reference servers and tools, installed by the harness itself when missing (idempotent).

Debian's FTP servers conflict with each other as packages, so none is installed: each .deb is
fetched with `apt-get download` and unpacked with `dpkg -x` into bench/.servers/root, together
with the shared libraries the system lacks; the binaries run from there with LD_LIBRARY_PATH.
pyftpdlib and pyOpenSSL (and py-spy for --profile) come from PyPI into the current environment.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
SERVERS_DIR = BENCH_DIR / ".servers"

SERVER_PACKAGES = ("vsftpd", "proftpd-core", "proftpd-mod-crypto", "pure-ftpd", "openssh-server",
                   "openssh-sftp-server")
TOOL_PACKAGES = ("iperf3", "libiperf0")
# Shared libraries those packages link against; unpacked only when the system lacks them.
LIBRARY_PACKAGES = (
    "libwrap0", "libnsl2", "libtirpc3", "libcap2", "libpam0g", "libpam-modules", "libssl3",
    "libacl1", "libcrypt1", "libhiredis0.14", "libidn2-0", "libmemcached11", "libmemcachedutil2",
    "libhashkit2", "libncursesw6", "libpcre2-8-0", "libpcre2-posix3", "libtinfo6", "zlib1g",
    "libsodium23", "libsctp1", "libseccomp2",
)
APT_TIMEOUT = 300
PIP_TIMEOUT = 600
_LDD_TIMEOUT = 30


class InstallError(RuntimeError):
    pass


@dataclass(frozen=True)
class DebianTree:
    """Binaries unpacked from Debian packages, runnable with `env`."""

    root: Path

    @property
    def library_path(self) -> str:
        parts = [self.root / "usr/lib/x86_64-linux-gnu", self.root / "lib/x86_64-linux-gnu",
                 self.root / "usr/lib", self.root / "lib"]
        return ":".join(str(part) for part in parts)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = self.library_path
        return env

    @property
    def vsftpd(self) -> Path:
        return self.root / "usr/sbin/vsftpd"

    @property
    def proftpd(self) -> Path:
        return self.root / "usr/sbin/proftpd"

    @property
    def proftpd_modules(self) -> Path:
        return self.root / "usr/lib/proftpd"

    @property
    def pure_ftpd(self) -> Path:
        return self.root / "usr/sbin/pure-ftpd"

    @property
    def pure_pw(self) -> Path:
        return self.root / "usr/bin/pure-pw"

    @property
    def sshd(self) -> Path:
        return self.root / "usr/sbin/sshd"

    @property
    def sftp_server(self) -> Path:
        return self.root / "usr/lib/openssh/sftp-server"

    @property
    def iperf3(self) -> Path:
        return self.root / "usr/bin/iperf3"

    def server_binaries(self) -> list[Path]:
        return [self.vsftpd, self.proftpd, self.proftpd_modules / "mod_tls.so", self.pure_ftpd,
                self.pure_pw, self.sshd, self.sftp_server]


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _installed_on_system(package: str) -> bool:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True,
        timeout=_LDD_TIMEOUT,
    )
    return result.returncode == 0 and "install ok installed" in result.stdout


def _apt_download(packages: list[str], into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    argv = ["apt-get", "-o", "APT::Sandbox::User=root", "download", *packages]
    for attempt in (1, 2):
        result = subprocess.run(argv, cwd=into, capture_output=True, text=True,
                                timeout=APT_TIMEOUT)
        if result.returncode == 0:
            return
        if attempt == 1:
            _say("apt-get download failed; running apt-get update once and retrying")
            subprocess.run(["apt-get", "update"], capture_output=True, text=True,
                           timeout=APT_TIMEOUT)
    raise InstallError(f"apt-get download {' '.join(packages)} failed:\n{result.stderr[-2000:]}")


def _missing_libraries(tree: DebianTree, binaries: list[Path]) -> list[str]:
    missing: list[str] = []
    for binary in binaries:
        result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True,
                                env=tree.env(), timeout=_LDD_TIMEOUT)
        missing += [
            f"{binary.name}: {line.split()[0]}" for line in result.stdout.splitlines()
            if "not found" in line
        ]
    return missing


def _unpack(packages: list[str], tree: DebianTree) -> None:
    debs = SERVERS_DIR / "debs"
    _apt_download(packages, debs)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(tree.root)], check=True,
                       capture_output=True, timeout=APT_TIMEOUT)
    shutil.rmtree(debs, ignore_errors=True)


def ensure_debian_tree() -> DebianTree:
    """Unpack vsftpd, proftpd (with mod_tls), pure-ftpd and OpenSSH's sshd and sftp-server
    unless already there (sshd is not installed: it would start a system service)."""
    tree = DebianTree(SERVERS_DIR / "root")
    binaries = tree.server_binaries()
    if all(path.exists() for path in binaries) and not _missing_libraries(tree, binaries):
        return tree
    _say(f"unpacking reference servers from Debian packages into {SERVERS_DIR}")
    libraries = [name for name in LIBRARY_PACKAGES if not _installed_on_system(name)]
    _unpack([*SERVER_PACKAGES, *libraries], tree)
    missing = _missing_libraries(tree, binaries)
    if missing:
        raise InstallError("unpacked servers still miss shared libraries: " + ", ".join(missing))
    return tree


def ensure_iperf3(tree: DebianTree) -> Path | None:
    """iperf3 from Debian, unpacked beside the servers; None (with a note) if not possible."""
    if tree.iperf3.exists() and not _missing_libraries(tree, [tree.iperf3]):
        return tree.iperf3
    try:
        _unpack(list(TOOL_PACKAGES) + (["libsctp1"] if not _installed_on_system("libsctp1")
                                       else []), tree)
    except (InstallError, subprocess.SubprocessError, OSError) as exc:
        _say(f"note: iperf3 could not be installed ({exc}); loopback throughput is skipped")
        return None
    if _missing_libraries(tree, [tree.iperf3]):
        _say("note: iperf3 misses shared libraries; loopback throughput is skipped")
        return None
    return tree.iperf3


def ensure_openssh_client() -> None:
    """OpenSSH's sftp, scp and ssh-keygen (the SSH clients and key maker): Debian's
    openssh-client, installed when missing (it starts no service)."""
    if all(shutil.which(tool) for tool in ("sftp", "scp", "ssh-keygen")):
        return
    _say("apt-get install openssh-client")
    result = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends",
                             "openssh-client"], capture_output=True, text=True,
                            timeout=APT_TIMEOUT)
    if result.returncode != 0:
        raise InstallError(f"apt-get install openssh-client failed:\n{result.stderr[-2000:]}")


def _pip_install(*requirements: str) -> None:
    _say(f"pip install {' '.join(requirements)}")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *requirements],
        capture_output=True, text=True, timeout=PIP_TIMEOUT,
    )
    if result.returncode != 0:
        raise InstallError(f"pip install {' '.join(requirements)} failed:\n{result.stderr[-2000:]}")
    importlib.invalidate_caches()


def ensure_python_servers() -> None:
    """pyftpdlib and pyOpenSSL (pyftpdlib's TLS) in the current environment."""
    wanted = {"pyftpdlib": "pyftpdlib", "OpenSSL": "pyOpenSSL"}
    missing = [package for module, package in wanted.items()
               if importlib.util.find_spec(module) is None]
    if missing:
        _pip_install(*missing)


def ensure_py_spy() -> Path:
    found = shutil.which("py-spy")
    if found is None:
        _pip_install("py-spy")
        found = shutil.which("py-spy")
        if found is None:
            candidate = Path(sys.executable).parent / "py-spy"
            found = str(candidate) if candidate.exists() else None
    if found is None:
        raise InstallError("py-spy was installed but is not on PATH")
    return Path(found)
