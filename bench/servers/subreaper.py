"""Run a command as a child subreaper, so that CPU of its orphaned descendants stays counted.

    python bench/servers/subreaper.py UID GID COMMAND [ARG...]

The command runs as UID:GID (no supplementary groups); this process stays as it was started.

sshd's privilege-separation monitor exits without waiting for the session process it forked,
so that process (and the sftp-server under it) is re-parented to init and its CPU never reaches
sshd's counters of reaped children: a transfer looked free. Under this wrapper orphans come
here instead and are reaped, so the CPU of the whole tree is counted in this process.
"""

from __future__ import annotations

import ctypes
import os
import sys

_PR_SET_CHILD_SUBREAPER = 36


def main() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print(f"subreaper: prctl failed: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 1
    uid, gid, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    child = os.fork()
    if child == 0:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        os.execv(argv[0], argv)
    status = 1
    while True:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            return status
        if pid == child:
            status = os.waitstatus_to_exitcode(code)


if __name__ == "__main__":
    sys.exit(main())
