"""What every benchmark shares: timing, peak memory, the machine, and child processes.

Each measurement runs in a child process of its own (``python bench/<module>.py --case ...``)
so its peak memory is its own; the child prints one JSON object on its last line.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BENCH",
    "ROOT",
    "Clock",
    "child",
    "emit",
    "free_port",
    "log_to",
    "machine",
    "peak_rss_mb",
    "rss_mb",
    "start_server",
]

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def rss_mb() -> float:
    """The resident set size of this process now, in MB."""
    with open("/proc/self/statm", encoding="ascii") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """The peak resident set size of this process so far, in MB (``ru_maxrss``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Clock:
    """Wall and CPU seconds of named steps."""

    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the block as ``name`` (added to what the name already has)."""
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - wall
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu


def log_to(path: Path) -> None:
    """Log as the ``idsync`` command does by default (INFO, redacted), into ``path``."""
    from idsync import log

    path.parent.mkdir(parents=True, exist_ok=True)
    log.setup("INFO", stream=path.open("a", encoding="utf-8"))


def emit(result: dict[str, Any]) -> None:
    """Print a child's result as the last line of its output."""
    result.setdefault("peak_rss_mb", round(peak_rss_mb(), 1))
    print(json.dumps(result, default=str), flush=True)


def child(
    module: str, args: Sequence[str], timeout: float = 900, python: str | None = None
) -> dict[str, Any]:
    """Run ``bench/<module>.py`` with ``args`` in a new process; its JSON result.

    ``python`` runs it with another interpreter (another checkout's venv, so its idsync).
    """
    command = [python or sys.executable, str(BENCH / f"{module}.py"), *args]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stderr or done.stdout).splitlines()[-25:])
        raise RuntimeError(f"{' '.join(command[1:])} failed ({done.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def start_server(command: Sequence[str], ready: str, timeout: float = 300) -> Iterator[str]:
    """Start a simulator process and wait for the line containing ``ready``; yields that line.

    The process is ended (by its own id) when the block ends.
    """
    proc = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + timeout
        assert proc.stdout is not None
        for line in proc.stdout:
            if ready in line:
                yield line.strip()
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start in {timeout} s")
        else:
            raise RuntimeError(f"{' '.join(command)} ended before it was ready")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, Python and the load when the run started."""
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram = 0.0
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) / 2**20
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gb": round(ram, 1),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load": [round(x, 2) for x in os.getloadavg()],
    }
