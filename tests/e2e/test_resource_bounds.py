"""Upstreams that attack agentmux's memory and task budget, measured from outside.

  huge   HTTP,  `--misbehave huge-event`: its `huge_event` tool answers with one 100 MB SSE event
         that never ends (no blank line). agentmux must give up at `max_message_bytes` (16 MiB by
         default), fail that call naming the upstream and the limit, keep its RSS flat, and serve
         other upstreams meanwhile.
  storm  stdio and HTTP, `--misbehave list-changed-storm`: ~10 000 `tools/list_changed` a second
         from `initialize` on. agentmux must coalesce them: a bounded number of `tools/list`
         requests reach the upstream (counted by the fixture's `abuse_stats` tool), RSS stays flat,
         and other upstreams answer normally.

The measured numbers are printed (run with `-s` to see them) and are in the assertion messages.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import anyio
import harness
import pytest
from mcp.shared.exceptions import MCPError
from mcp_util import client, error_text, texts

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
# Growth of agentmux's resident memory a misbehaving upstream may cause.
RSS_BUDGET = 64 * MIB
DEFAULT_LIMIT = 16 * MIB
HUGE_CALLS = 3
STORM_SECONDS = 6.0
# The hub starts a refresh at most every 0.5 s per upstream.
REFRESH_GAP_S = 0.5


def status_bytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"/proc/{pid}/status has no {field}")


def mib(n: int) -> str:
    return f"{n / MIB:.1f} MiB"


async def healthy_calls(c, until: anyio.Event, latencies: list[float]) -> None:
    """Echo through the healthy upstream until `until` is set, recording each call's latency."""
    while not until.is_set():
        started = time.monotonic()
        result = await c.call_tool("healthy__echo", {"text": "still here"})
        latencies.append(time.monotonic() - started)
        assert texts(result) == ["still here"], result
        await anyio.sleep(0.05)


async def abuse_stats(c, upstream: str) -> dict:
    result = await c.call_tool(f"{upstream}__abuse_stats", {})
    return json.loads(texts(result)[0])


async def test_huge_sse_event_is_cut_at_the_limit(tmp_path: Path) -> None:
    huge = harness.start_fixture_http(tmp_path, "fixture-huge", ["--misbehave", "huge-event"])
    hub = None
    try:
        upstreams = {"huge": harness.http_spec(huge.url), "healthy": harness.fixture_stdio_spec()}
        hub = harness.start_hub(tmp_path / "hub", upstreams, name="agentmux-huge")
        pid = hub.proc.pid
        async with client(hub.url("/mcp"), "legacy") as c:
            assert texts(await c.call_tool("healthy__echo", {"text": "warm"})) == ["warm"]
            rss_before = status_bytes(pid, "VmRSS")
            errors: list[str] = []
            latencies: list[float] = []
            done = anyio.Event()

            async def huge_calls() -> None:
                try:
                    for _ in range(HUGE_CALLS):
                        with pytest.raises(MCPError) as excinfo:
                            await c.call_tool("huge__huge_event", {}, read_timeout_seconds=60)
                        errors.append(error_text(excinfo.value))
                finally:
                    done.set()

            started = time.monotonic()
            async with anyio.create_task_group() as tg:
                tg.start_soon(huge_calls)
                tg.start_soon(healthy_calls, c, done, latencies)
            elapsed = time.monotonic() - started
            rss_after = status_bytes(pid, "VmRSS")
            peak = status_bytes(pid, "VmHWM")
            sent = (await abuse_stats(c, "huge"))["huge_bytes_sent"]
            # The link to the misbehaving upstream still works for ordinary calls.
            assert texts(await c.call_tool("huge__echo", {"text": "after"})) == ["after"]

        report = (
            f"huge-event: {HUGE_CALLS} calls of a 100 MB event in {elapsed:.1f} s; upstream sent {mib(sent)} "
            f"before agentmux hung up; agentmux RSS before {mib(rss_before)}, after {mib(rss_after)} "
            f"(growth {mib(rss_after - rss_before)}), peak (VmHWM) {mib(peak)}; "
            f"{len(latencies)} healthy calls meanwhile, slowest {max(latencies) * 1000:.0f} ms"
        )
        print("\n" + report)
        for text in errors:
            assert "huge" in text and str(DEFAULT_LIMIT) in text, f"{text}\n{report}"
        assert rss_after - rss_before < RSS_BUDGET, report
        assert peak - rss_before < RSS_BUDGET, report
        assert sent < HUGE_CALLS * 100 * MIB, f"agentmux read every byte\n{report}"
        assert latencies and max(latencies) < 5.0, report
    finally:
        if hub is not None:
            hub.stop()
        huge.proc.stop()


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_list_changed_storm_is_coalesced(tmp_path: Path, transport: str) -> None:
    storm_args = ["--misbehave", "list-changed-storm"]
    server = None
    if transport == "http":
        server = harness.start_fixture_http(tmp_path, "fixture-storm", storm_args)
        storm_spec = harness.http_spec(server.url)
        # The storm starts at `initialize`, which the stateless era does not have.
        storm_spec["mcp"]["protocol"] = "2025-11-25"
    else:
        storm_spec = harness.fixture_stdio_spec(*storm_args)
    hub = None
    try:
        started = time.monotonic()
        hub = harness.start_hub(
            tmp_path / "hub", {"storm": storm_spec, "healthy": harness.fixture_stdio_spec()}, name=f"agentmux-storm-{transport}"
        )
        pid = hub.proc.pid
        async with client(hub.url("/mcp"), "legacy") as c:
            first = await abuse_stats(c, "storm")
            rss_before = status_bytes(pid, "VmRSS")
            latencies: list[float] = []
            done = anyio.Event()
            async with anyio.create_task_group() as tg:
                tg.start_soon(healthy_calls, c, done, latencies)
                await anyio.sleep(STORM_SECONDS)
                done.set()
            rss_after = status_bytes(pid, "VmRSS")
            stats = await abuse_stats(c, "storm")
            elapsed = time.monotonic() - started

        notes = stats["list_changed_sent"]
        lists = stats["tool_lists"]
        during = lists - first["tool_lists"]
        # One refresh start per gap, plus the initial fetch and one in flight at each end.
        bound = int(elapsed / REFRESH_GAP_S) + 3
        report = (
            f"list-changed-storm ({transport}): {notes} list_changed sent in {elapsed:.1f} s "
            f"({notes / elapsed:.0f}/s); tools/list at the upstream: {lists} in all, {during} during "
            f"the {STORM_SECONDS:.0f} s window (bound {bound}); agentmux RSS before {mib(rss_before)}, "
            f"after {mib(rss_after)} (growth {mib(rss_after - rss_before)}); {len(latencies)} healthy "
            f"calls meanwhile, slowest {max(latencies) * 1000:.0f} ms"
        )
        print("\n" + report)
        assert notes > 1000, f"the storm did not happen\n{report}"
        assert lists <= bound, report
        assert rss_after - rss_before < RSS_BUDGET, report
        assert latencies and max(latencies) < 5.0, report
    finally:
        if hub is not None:
            hub.stop()
        if server is not None:
            server.proc.stop()
