"""Process trees from /proc, for tests about which processes agentmux leaves behind."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    state: str
    start: int  # clock ticks after boot: (pid, start) names one process even if the pid is reused
    cmdline: str


def read_proc(pid: int) -> ProcInfo | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm may contain spaces and parentheses: the fields after it start after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return ProcInfo(pid=pid, ppid=int(fields[1]), state=fields[0], start=int(fields[19]), cmdline=cmdline)


def all_procs() -> list[ProcInfo]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := read_proc(int(entry))) is not None:
            out.append(info)
    return out


def descendants(root: int) -> list[ProcInfo]:
    procs = all_procs()
    children: dict[int, list[ProcInfo]] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p)
    out: list[ProcInfo] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            out.append(child)
            stack.append(child.pid)
    return out


def still_running(recorded: list[ProcInfo]) -> list[ProcInfo]:
    """The recorded processes that still exist and are not zombies (a zombie has exited)."""
    out = []
    for p in recorded:
        now = read_proc(p.pid)
        if now is not None and now.start == p.start and now.state != "Z":
            out.append(now)
    return out


def wait_gone(recorded: list[ProcInfo], timeout: float) -> list[ProcInfo]:
    deadline = time.monotonic() + timeout
    while True:
        left = still_running(recorded)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def describe(procs: list[ProcInfo]) -> str:
    return "\n".join(f"  pid {p.pid} ppid {p.ppid} state {p.state}: {p.cmdline}" for p in procs)


def catches(pid: int, signum: int) -> bool:
    """Whether the process has a handler installed for `signum` (SigCgt in /proc/PID/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signum - 1)))
    return False


def wait_catches(pid: int, signum: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not catches(pid, signum):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True
