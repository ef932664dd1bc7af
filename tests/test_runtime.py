"""The per-process setup: freed memory is kept for the next op instead of faulted in again."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# Two 12 MB activations made and freed per step, like a layer of a held-out batch; prints the median
# page faults of a step once the process is past its first steps (a step may still grow the heap once).
STEPS = """
import ctypes, resource, sys, torch
from latentlab.runtime import M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, keep_freed_memory

torch.set_num_threads(1)
# glibc's initial thresholds (128 KiB), held fixed: left to itself glibc moves them with what the
# process freed before, so whether it faults the pages in again varies from run to run.
libc = ctypes.CDLL(None)
assert libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024) and libc.mallopt(M_TRIM_THRESHOLD, 128 * 1024)
if sys.argv[1] == "keep" and not keep_freed_memory():
    sys.exit("keep_freed_memory() could not set glibc's thresholds")

def step():
    x = torch.ones(3 * 2**20)
    y = x * 2
    del x, y

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

for _ in range(3):
    step()
counts = []
for _ in range(11):
    before = faults()
    step()
    counts.append(faults() - before)
print(sorted(counts)[5])
"""


def faults_per_step(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's (Linux)")
def test_freed_activations_are_reused_without_faulting_their_pages_in_again():
    pages = 2 * 3 * 2**20 * 4 // 4096  # the two tensors' 4 KiB pages
    assert faults_per_step("initial") > pages / 2  # glibc hands them back and the kernel maps them anew
    assert faults_per_step("keep") < pages / 100
