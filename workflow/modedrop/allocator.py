"""Keep freed memory in the process: the C allocator setting every workflow job starts with.

glibc's ``malloc`` serves a request above its mmap threshold (at most 32 MiB by default) with a
fresh ``mmap`` and returns it to the kernel on ``free``. A torch network on the CPU allocates and
frees activations of that size on every batch (EfficientNet-Lite0's first expanded block at
224 px and batch 16: 77 MB), so every batch pays the kernel's page faults and zeroing again:
a third of the extraction's CPU time was kernel time. Raising the mmap threshold (requests up
to 1 GiB come from the heap) and the trim threshold (freed memory stays in the heap for the next
batch) removes that cost, the advice of PyTorch's CPU performance tuning guide (which swaps in
jemalloc or TCMalloc for the same reason). Only where memory comes from changes, never an
arithmetic operation: the features are bitwise identical (``tests/test_allocator.py``).

The price is that a job keeps its peak heap until it exits (the workflow's jobs are short-lived
processes). Other C libraries (musl, macOS) are left as they are.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

#: ``mallopt`` parameters (glibc's ``malloc.h``).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Requests up to this size come from the heap, not from a fresh mmap.
MMAP_THRESHOLD = 1 << 30
#: glibc's cap on the mmap threshold in some versions (``DEFAULT_MMAP_THRESHOLD_MAX``, 64-bit).
MMAP_THRESHOLD_FALLBACK = 32 << 20
#: Free memory at the top of the heap kept rather than returned to the kernel.
TRIM_THRESHOLD = (1 << 31) - 1


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds for this process; ``False`` where there is no glibc.

    Safe to call more than once; affects later allocations only.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    mallopt = ctypes.CDLL(name).mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if not mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD):
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_FALLBACK)
    return bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
