"""What a benchmark's processes cost: CPU by process group, and a process's peak memory.

Where a phase's CPU went: the server under test, PostgreSQL, Redis and the client.

On a machine where all of them share the cores, a request's cost to the whole system is
what limits its rate; splitting it by process shows which part a gap comes from. Kernel
time spent on a process's behalf (its system calls) counts as that process's.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

GROUPS = ("server", "postgres", "redis", "client")


@dataclass
class CpuMeter:
    """CPU seconds by group between two ``read`` calls, of the server tree rooted at
    ``server_pid`` (gunicorn's arbiter and its workers) and the services' processes."""

    server_pid: int

    def read(self) -> dict[str, float]:
        totals = dict.fromkeys(GROUPS, 0.0)
        for group, process in self._processes():
            try:
                times = process.cpu_times()
            except psutil.Error:  # ended between listing and reading: its time is gone
                continue
            totals[group] += times.user + times.system
        return totals

    def _processes(self) -> Iterator[tuple[str, psutil.Process]]:
        server = psutil.Process(self.server_pid)
        yield "server", server
        yield from (("server", child) for child in server.children(recursive=True))
        yield "client", psutil.Process(os.getpid())
        for process in psutil.process_iter(["name"]):
            name = process.info["name"] or ""
            if name.startswith("postgres"):
                yield "postgres", process
            elif name.startswith("redis-server"):
                yield "redis", process


def per_request(before: dict[str, float], after: dict[str, float],
                requests: int) -> dict[str, float]:
    """Microseconds of CPU per request, by group."""
    return {group: (after[group] - before[group]) * 1e6 / requests for group in GROUPS}


def peak_rss_kb() -> int:
    """VmHWM: this process's own peak (ru_maxrss would include the pre-exec parent image)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def in_fresh_process(script: str, *args: str) -> dict:
    """``python script --child ARGS`` in a new interpreter, so that its peak RSS is its own;
    the child prints its result as JSON on its last line."""
    output = subprocess.run([sys.executable, script, "--child", *args], check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])
