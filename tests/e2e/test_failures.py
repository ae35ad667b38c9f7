"""Broken upstreams do not take the hub down.

One hub federates a healthy upstream with three broken ones, all the Rust fixture:
  healthy  stdio, well-behaved
  dies     stdio, `--misbehave exit-at-start` (the process exits before answering)
  hang     HTTP,  `--misbehave hang` (accepts connections, never answers)
  garbage  HTTP,  `--misbehave garbage` (answers with bytes that are not JSON-RPC)
The hub must still become ready, list and serve the healthy upstream's tools, and answer a
call to a broken upstream's tool with a JSON-RPC error that names the upstream.

A second group kills an HTTP upstream in the middle of a client session.
"""

from __future__ import annotations

from collections.abc import Iterator

import harness
import pytest
from mcp.shared.exceptions import MCPError
from mcp_util import MODES, all_tools, client, error_text, texts

pytestmark = pytest.mark.anyio

FIXTURE_TOOL = "test_simple_text"
FIXTURE_TEXT = "This is a simple text response for testing."
BROKEN = ("dies", "hang", "garbage")
# A call to the hanging upstream may wait for the hub's own upstream timeout.
BROKEN_CALL_TIMEOUT_S = 50.0


@pytest.fixture(scope="module")
def broken_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Hub]:
    logs = tmp_path_factory.mktemp("broken-fixtures")
    started: list[harness.FixtureServer] = []
    hub = None
    try:
        hang = harness.start_fixture_http(logs, "fixture-hang", ["--misbehave", "hang"])
        started.append(hang)
        garbage = harness.start_fixture_http(logs, "fixture-garbage", ["--misbehave", "garbage"])
        started.append(garbage)
        upstreams = {
            "healthy": harness.fixture_stdio_spec(),
            "dies": harness.fixture_stdio_spec("--misbehave", "exit-at-start"),
            "hang": harness.http_spec(hang.url),
            "garbage": harness.http_spec(garbage.url),
        }
        hub = harness.start_hub(tmp_path_factory.mktemp("hub-broken"), upstreams, name="agentmux-broken")
        yield hub
    finally:
        if hub is not None:
            hub.stop()
        for server in started:
            server.proc.stop()


@pytest.mark.parametrize("mode", MODES)
async def test_healthy_upstream_listed_and_served(broken_hub: harness.Hub, mode: str) -> None:
    async with client(broken_hub.url("/mcp"), mode) as c:
        names = [t.name for t in await all_tools(c)]
        assert f"healthy__{FIXTURE_TOOL}" in names, names
        leaked = [n for n in names if n.split("__", 1)[0] in BROKEN]
        assert not leaked, f"tools of broken upstreams are listed: {leaked}"

        result = await c.call_tool(f"healthy__{FIXTURE_TOOL}", {})
        assert not result.is_error, result
        assert texts(result) == [FIXTURE_TEXT]

    async with client(broken_hub.url("/mcp/healthy"), mode) as c:
        result = await c.call_tool(FIXTURE_TOOL, {})
        assert texts(result) == [FIXTURE_TEXT]


@pytest.mark.parametrize("upstream", BROKEN)
async def test_call_to_broken_upstream_is_jsonrpc_error_naming_it(broken_hub: harness.Hub, upstream: str) -> None:
    async with client(broken_hub.url("/mcp"), "legacy") as c:
        with pytest.raises(MCPError) as excinfo:
            await c.call_tool(f"{upstream}__{FIXTURE_TOOL}", {}, read_timeout_seconds=BROKEN_CALL_TIMEOUT_S)
        assert upstream in error_text(excinfo.value), f"error does not name '{upstream}': {excinfo.value.error}"

        # The session is still good afterwards.
        result = await c.call_tool(f"healthy__{FIXTURE_TOOL}", {})
        assert texts(result) == [FIXTURE_TEXT]


# === an upstream killed mid-session ===


@pytest.mark.parametrize("mode", MODES)
async def test_upstream_killed_mid_session(tmp_path_factory: pytest.TempPathFactory, mode: str) -> None:
    logs = tmp_path_factory.mktemp(f"victim-{mode}")
    victim = harness.start_fixture_http(logs, "fixture-victim")
    hub = None
    try:
        upstreams = {
            "victim": harness.http_spec(victim.url),
            "healthy": harness.fixture_stdio_spec(),
            "everything": harness.everything_spec(),
        }
        hub = harness.start_hub(logs / "hub", upstreams, name=f"agentmux-victim-{mode}")
        async with client(hub.url("/mcp"), mode) as c:
            names = [t.name for t in await all_tools(c)]
            assert f"victim__{FIXTURE_TOOL}" in names and f"healthy__{FIXTURE_TOOL}" in names, names
            assert texts(await c.call_tool(f"victim__{FIXTURE_TOOL}", {})) == [FIXTURE_TEXT]

            victim.proc.kill()

            # Same client, same session: the other upstreams still work.
            assert texts(await c.call_tool(f"healthy__{FIXTURE_TOOL}", {})) == [FIXTURE_TEXT]
            echo = await c.call_tool("everything__echo", {"message": "still here"})
            assert texts(echo) == ["Echo: still here"]

            # The dead upstream's tool fails and says which upstream is gone.
            try:
                dead = await c.call_tool(f"victim__{FIXTURE_TOOL}", {})
            except MCPError as e:
                assert "victim" in error_text(e), e.error
            else:
                assert dead.is_error, f"call to a killed upstream succeeded: {dead}"
                assert "victim" in " ".join(texts(dead)), dead

            names_after = [t.name for t in await all_tools(c)]
            assert f"healthy__{FIXTURE_TOOL}" in names_after and "everything__echo" in names_after, names_after
    finally:
        if hub is not None:
            hub.stop()
        victim.proc.stop()
