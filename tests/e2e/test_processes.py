"""agentmux's own process lifecycle: stdio upstreams never outlive it, SIGTERM is graceful.

Each test runs its own agentmux with two stdio upstreams — the Rust fixture and
server-everything on Node 22 — and records, from /proc, every descendant of agentmux (the
`agentmux __reap` parents, the servers, whatever they started) before signalling agentmux
itself (not its process group: the point is what agentmux does about its children).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import harness
import httpx
import pytest
from proctree import ProcInfo, describe, descendants, still_running, wait_catches, wait_gone
from raw_mcp import ACCEPT, RawSession, sse_events

KILL_CLEANUP_S = 10.0
GRACE_S = 3.0
# Stopping the upstreams after the grace period: the reaper gives each server 2 s after SIGTERM.
STOP_MARGIN_S = 4.0
SLOW_MS = 1500


def wait_for_tree(hub: harness.Hub, timeout: float = 10.0) -> list[ProcInfo]:
    """agentmux's descendants once both servers run under their reapers."""
    fixture_bin = str(harness.FIXTURE_BIN)
    everything_js = harness.tools()["SERVER_EVERYTHING_JS"]
    deadline = time.monotonic() + timeout
    while True:
        tree = descendants(hub.proc.pid)
        has_fixture = any(p.cmdline.startswith(fixture_bin) for p in tree)
        has_node = any(everything_js in p.cmdline and "__reap" not in p.cmdline for p in tree)
        if has_fixture and has_node:
            return tree
        if time.monotonic() >= deadline:
            raise AssertionError(f"agentmux's process tree lacks the fixture or server-everything:\n{describe(tree)}")
        time.sleep(0.05)


@pytest.fixture
def stdio_hub(tmp_path: Path) -> Iterator[harness.Hub]:
    upstreams = {"fixture": harness.fixture_stdio_spec(), "everything": harness.everything_spec()}
    settings = {"server": {"shutdown_grace": f"{GRACE_S:g}s"}}
    hub = harness.start_hub(tmp_path, upstreams, name="agentmux-procs", settings=settings)
    recorded: list[ProcInfo] = []
    try:
        yield hub
    finally:
        recorded = descendants(hub.proc.pid) if hub.proc.alive() else []
        hub.stop()
        # Whatever a failed test left behind: its pids were recorded by the test; be safe anyway.
        for p in still_running(recorded):
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_sigkill_leaves_no_upstream_processes(stdio_hub: harness.Hub) -> None:
    tree = wait_for_tree(stdio_hub)
    reapers = [p for p in tree if "__reap" in p.cmdline]
    assert len(reapers) == 2, f"expected one `agentmux __reap` per stdio upstream:\n{describe(tree)}"

    os.kill(stdio_hub.proc.pid, signal.SIGKILL)  # agentmux alone, not its process group
    stdio_hub.proc.popen.wait(timeout=5)

    left = wait_gone(tree, KILL_CLEANUP_S)
    for p in left:  # do not leak them into the rest of the run
        os.kill(p.pid, signal.SIGKILL)
    assert not left, f"{KILL_CLEANUP_S:.0f}s after SIGKILL of agentmux these still run:\n{describe(left)}"


def wait_sigterm_handler(hub: harness.Hub) -> None:
    """agentmux installs its SIGTERM handler a moment after /readyz answers 200 (see
    test_sigterm_right_after_ready_is_graceful); the tests of graceful stopping wait for it."""
    assert wait_catches(hub.proc.pid, signal.SIGTERM, 10), f"agentmux installed no SIGTERM handler\n{hub.proc.tail()}"


def test_sigterm_exits_zero_within_grace_and_leaves_no_children(stdio_hub: harness.Hub) -> None:
    tree = wait_for_tree(stdio_hub)
    wait_sigterm_handler(stdio_hub)
    started = time.monotonic()
    os.kill(stdio_hub.proc.pid, signal.SIGTERM)
    try:
        code = stdio_hub.proc.popen.wait(timeout=GRACE_S + STOP_MARGIN_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"agentmux still running {GRACE_S + STOP_MARGIN_S:.0f}s after SIGTERM (grace {GRACE_S:g}s)\n"
            f"{stdio_hub.proc.tail()}"
        ) from None
    took = time.monotonic() - started
    assert code == 0, f"agentmux exited with {code} on SIGTERM\n{stdio_hub.proc.tail()}"
    # Nothing was running: there was nothing to wait for.
    assert took < GRACE_S, f"an idle agentmux took {took:.1f}s to stop (grace {GRACE_S:g}s)"
    left = wait_gone(tree, 0.5)
    assert not left, f"agentmux exited but left running:\n{describe(left)}"


def test_in_flight_call_completes_during_graceful_shutdown(stdio_hub: harness.Hub) -> None:
    wait_for_tree(stdio_hub)
    wait_sigterm_handler(stdio_hub)
    with RawSession(stdio_hub.url("/mcp")) as s:
        body = {
            "jsonrpc": "2.0",
            "id": 41,
            "method": "tools/call",
            "params": {"name": "fixture__slow", "arguments": {"ms": SLOW_MS}, "_meta": {"progressToken": "shutdown"}},
        }
        events: list[dict[str, Any]] = []
        signalled_at: list[float] = []
        with httpx.Client(timeout=httpx.Timeout(10.0, read=20.0)) as http:
            headers = {**s.headers(), "Accept": ACCEPT}
            with http.stream("POST", s.url, content=json.dumps(body).encode(), headers=headers) as r:
                assert r.status_code == 200, r.read()
                assert r.headers["content-type"].startswith("text/event-stream"), r.headers
                for message in sse_events(r.iter_lines()):
                    events.append(message)
                    # The first progress proves the call is running in the fixture: stop now.
                    if message.get("method") == "notifications/progress" and not signalled_at:
                        os.kill(stdio_hub.proc.pid, signal.SIGTERM)
                        signalled_at.append(time.monotonic())
                    if message.get("id") == 41:
                        break
        assert signalled_at, f"no progress arrived before the result: {events}"
        answers = [m for m in events if m.get("id") == 41]
        assert answers, f"the in-flight call got no answer after SIGTERM: {events}\n{stdio_hub.proc.tail()}"
        assert "result" in answers[0], answers[0]
        assert answers[0]["result"]["content"] == [{"type": "text", "text": f"slept {SLOW_MS} ms"}], answers[0]

    code = stdio_hub.proc.popen.wait(timeout=GRACE_S + STOP_MARGIN_S)
    assert code == 0, f"agentmux exited with {code}\n{stdio_hub.proc.tail()}"


def test_sigterm_right_after_ready_is_graceful(tmp_path: Path) -> None:
    """An orchestrator may stop a replica the moment it reports ready."""
    hub = harness.start_hub(tmp_path, {"fixture": harness.fixture_stdio_spec()}, name="agentmux-early-term")
    try:
        os.kill(hub.proc.pid, signal.SIGTERM)  # start_hub returns as soon as /readyz is 200
        code = hub.proc.popen.wait(timeout=GRACE_S + STOP_MARGIN_S)
        assert code == 0, f"agentmux exited with {code} on SIGTERM right after /readyz answered 200"
    finally:
        hub.stop()
