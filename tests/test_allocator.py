"""The jobs' allocator setting (modedrop.allocator): on glibc it takes effect, and a torch forward
pass gives bitwise the same numbers with it as without it."""

from __future__ import annotations

import platform
import subprocess
import sys

import numpy as np
import pytest

from modedrop.allocator import keep_freed_memory

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# A convolution whose activations (16 x 64 x 112 x 112 float32, 51 MB) lie above glibc's default
# mmap threshold, run twice so the second pass reuses (or, without the setting, re-maps) memory.
_FORWARD = """
import sys
import numpy as np
import torch
from modedrop.allocator import keep_freed_memory
if sys.argv[1] == "tuned":
    assert keep_freed_memory()
torch.manual_seed(0)
torch.set_num_threads(1)
net = torch.nn.Sequential(
    torch.nn.Conv2d(3, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(64, 8, 3, padding=1)
)
x = torch.rand(16, 3, 112, 112)
with torch.inference_mode():
    out = [net(x).sum(dim=(2, 3)) for _ in range(2)]
np.save(sys.argv[2], torch.stack(out).numpy())
"""


def _in_subprocess(code: str, *args: str) -> str:
    # The setting lasts for the process: never change the test runner's own allocator (the
    # benchmark harness's peak-memory tests measure freed memory being returned).
    done = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.mark.skipif(not GLIBC, reason="the setting applies to glibc only")
def test_keep_freed_memory_takes_effect_on_glibc():
    code = "from modedrop.allocator import keep_freed_memory as k; print(k(), k())"
    assert _in_subprocess(code) == "True True"  # idempotent


@pytest.mark.skipif(GLIBC, reason="glibc: see the test above")
def test_keep_freed_memory_is_a_no_op_elsewhere():
    assert keep_freed_memory() is False  # nothing is set here, so it is safe in-process


@pytest.mark.skipif(not GLIBC, reason="the setting applies to glibc only")
def test_same_numbers_with_and_without_the_setting(tmp_path):
    pytest.importorskip("torch")
    outputs = {}
    for mode in ("plain", "tuned"):
        path = tmp_path / f"{mode}.npy"
        _in_subprocess(_FORWARD, mode, str(path))
        outputs[mode] = np.load(path)
    # One code path computes both: the allocator changes where memory lives, not the arithmetic.
    np.testing.assert_array_equal(outputs["plain"], outputs["tuned"])
