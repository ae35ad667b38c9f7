"""An upstream on the legacy HTTP+SSE transport (protocol 2024-11-05: GET /sse, POST the
`endpoint` it names): a Python `mcp` server, federated next to a stdio one, with structured
results, prompts and list changes passing through."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import harness
import pytest
from mcp_util import MODES, all_tools, client, texts

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def sse_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Hub]:
    logs = tmp_path_factory.mktemp("legacy-sse")
    server = harness.start_py_server(logs, "py-sse", sse=True)
    hub = None
    try:
        sse_spec = {"mcp": {"url": f"http://127.0.0.1:{server.port}/sse", "transport": "sse"}}
        hub = harness.start_hub(logs / "hub", {"old": sse_spec, "fixture": harness.fixture_stdio_spec()}, name="agentmux-sse")
        yield hub
    finally:
        if hub is not None:
            hub.stop()
        server.proc.stop()


@pytest.mark.parametrize("mode", MODES)
async def test_sse_upstream_is_federated(sse_hub: harness.Hub, mode: str) -> None:
    async with client(sse_hub.url("/mcp"), mode) as c:
        names = [t.name for t in await all_tools(c)]
        assert "old__forecast" in names and "fixture__echo" in names, names
        forecast = await c.call_tool("old__forecast", {"city": "Oslo", "days": 2})
        assert forecast.structured_content == {
            "city": "Oslo",
            "temperature_c": 21.5,
            "conditions": ["sunny", "windy", "sunny", "windy"],
            "details": {"humidity": 40, "days": 2},
        }, forecast
        prompt = await c.get_prompt("old__travel_plan", {"destination": "Rome"})
        assert prompt.messages, prompt
        assert texts(await c.call_tool("fixture__echo", {"text": "still here"})) == ["still here"]


async def test_sse_upstream_list_changes_reach_clients(sse_hub: harness.Hub) -> None:
    async with client(sse_hub.url("/mcp"), "legacy") as c:
        added = await c.call_tool("old__add_tool", {"suffix": "sse"})
        assert texts(added) == ["added extra_sse"], added
        # The upstream's list_changed arrives on its event stream; the hub refetches.
        for _ in range(100):
            if "old__extra_sse" in [t.name for t in await all_tools(c)]:
                break
            await anyio.sleep(0.05)
        else:
            pytest.fail("old__extra_sse never listed")
        assert texts(await c.call_tool("old__extra_sse", {})) == ["extra_sse works"]
