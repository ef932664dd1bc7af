"""Time each stage of a running `dvc repro`, and the peak memory of the processes it starts.

DVC runs stages one at a time and prints `Running stage '<name>':` before each; a stage's time runs
from its line to the next stage's line (or the end), so DVC's own work after a command (hashing
outputs, writing them to the cache, updating dvc.lock) counts toward the stage. DVC's start-up
before the first stage is kept apart.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

STAGE_LINE = re.compile(r"^Running stage '([^']+)':")
POLL_SECONDS = 0.2
MIB = 2**20


@dataclass
class StageTime:
    name: str
    seconds: float
    peak_mib: float  # 0.0 when no python process of the stage was seen


@dataclass
class Repro:
    """One timed command: its stages in the order they ran, its whole time, DVC's start-up and own peak."""

    stages: list[StageTime]
    seconds: float
    startup_seconds: float
    dvc_peak_mib: float
    output: str = field(repr=False)


def peak_rss(process: psutil.Process) -> int:
    """The peak resident set of `process` so far in bytes (VmHWM: catches spikes between two polls)."""
    try:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return process.memory_info().rss
    except (OSError, psutil.Error):
        return 0  # gone between listing and reading


class PeakMemory(threading.Thread):
    """Polls the processes under `root`: per stage, the largest sum of peak RSS of its python processes."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root = psutil.Process(root)
        self.stage: str | None = None  # set by the reader of DVC's output
        self.peaks: dict[str, int] = {}
        self.root_peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            stage = self.stage
            total = sum(peak_rss(p) for p in self.python_children())
            self.root_peak = max(self.root_peak, peak_rss(self.root))
            if stage is not None and stage == self.stage:  # a sample across a stage change is dropped
                self.peaks[stage] = max(self.peaks.get(stage, 0), total)
            self.done.wait(POLL_SECONDS)

    def python_children(self) -> list[psutil.Process]:
        try:
            children = self.root.children(recursive=True)
        except psutil.Error:
            return []
        return [p for p in children if _is_python(p)]


def _is_python(process: psutil.Process) -> bool:
    try:
        return process.name().startswith("python")
    except psutil.Error:
        return False


def _echo(line: str) -> None:
    print(line, flush=True)  # progress, also when stdout is a file


def time_repro(command: Sequence[str], cwd: Path, env: dict[str, str], echo=_echo) -> Repro:
    """Run `command` (a `dvc repro`) in `cwd`; raise RuntimeError with the output's tail if it fails.

    echo: called with one line as each stage starts (progress for a long run).
    """
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1)
    memory = PeakMemory(process.pid)
    memory.start()
    marks: list[tuple[str, float]] = []
    lines = []
    for line in process.stdout:  # DVC's logger flushes every line: the marks are live
        lines.append(line)
        if match := STAGE_LINE.match(line):
            marks.append((match.group(1), time.perf_counter()))
            memory.stage = match.group(1)
            echo(f"[{marks[-1][1] - started:7.1f} s] {match.group(1)}")
    returncode = process.wait()
    ended = time.perf_counter()
    memory.done.set()
    memory.join()
    output = "".join(lines)
    if returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {returncode} in {cwd}:\n{''.join(lines[-40:])}")
    ends = [t for _, t in marks[1:]] + [ended]
    stages = [StageTime(name, end - start, memory.peaks.get(name, 0) / MIB)
              for (name, start), end in zip(marks, ends, strict=True)]
    startup = (marks[0][1] if marks else ended) - started
    return Repro(stages, ended - started, startup, memory.root_peak / MIB, output)
