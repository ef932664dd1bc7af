"""The per-process setup: freed memory is kept for the next op instead of faulted in again."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# Two 12 MB activations made and freed per step, like a layer of a held-out batch; prints the page
# faults per step once the process is past its first steps.
STEPS = """
import resource, sys, torch
from latentlab.runtime import keep_freed_memory

torch.set_num_threads(1)
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
before = faults()
for _ in range(10):
    step()
print((faults() - before) / 10)
"""


def faults_per_step(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True, check=True)
    return float(done.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's (Linux)")
def test_freed_activations_are_reused_without_faulting_their_pages_in_again():
    pages = 2 * 3 * 2**20 * 4 // 4096  # the two tensors' 4 KiB pages
    assert faults_per_step("default") > pages / 2  # glibc hands them back and the kernel maps them anew
    assert faults_per_step("keep") < pages / 100
