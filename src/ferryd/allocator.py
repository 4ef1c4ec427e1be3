"""glibc's allocator, told to hand large blocks back to the system when they are freed.

Each argon2id password check allocates argon2_memory_cost (19-64 MiB) in a worker thread.
glibc serves blocks above its mmap threshold with mmap and unmaps them on free, but it raises
that threshold to the size of each such block freed (up to 32 MiB), so from the second check
on a 19 MiB block comes from the thread's own heap arena and stays there: with the default
executor's threads, 100+ MiB of RSS kept for nothing (198 KiB per idle session at 500
sessions, measured with argon2_memory_cost=19456). A fixed threshold ends the raising: blocks
of LARGE_BLOCK and more are always mapped and given back; smaller ones (transfer buffers,
512 KiB SFTP blocks) stay in the heap, where reusing them costs no page faults.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # malloc.h
LARGE_BLOCK = 4 << 20


def return_large_blocks() -> bool:
    """Set glibc's fixed mmap threshold; False where the C library has no mallopt (musl)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK))
