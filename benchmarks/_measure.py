"""Shared by the benchmark scripts: wall time and peak memory of a child process (POSIX)."""

from __future__ import annotations

import os
import subprocess
import time


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall time (s) and peak memory (MiB) of one child process."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr.read().decode() if p.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def run_cpu(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Wall time (s), peak memory (MiB) and CPU time (user + system, s) of one child process.

    On a machine shared with other work, CPU time varies far less than wall time."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr.read().decode() if p.stderr else ''}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
