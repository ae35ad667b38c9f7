"""agentmux's own legacy HTTP+SSE endpoint (`GET /sse`, `POST /messages`) for clients that
predate Streamable HTTP, driven by the Python `mcp` SDK's SSE client."""

from __future__ import annotations

from collections.abc import Iterator

import harness
import httpx
import pytest
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.shared.exceptions import MCPError
from mcp_util import texts

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Hub]:
    logs = tmp_path_factory.mktemp("sse-endpoint")
    hub = harness.start_hub(logs, {"fixture": harness.fixture_stdio_spec()}, name="agentmux-sse-endpoint")
    try:
        yield hub
    finally:
        hub.stop()


async def test_sdk_sse_client_lists_and_calls(hub: harness.Hub) -> None:
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with sse_client(hub.url("/sse")) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = await session.list_tools()
        names = [t.name for t in tools.tools]
        assert "fixture__echo" in names and "fixture__slow" in names, names
        echoed = await session.call_tool("fixture__echo", {"text": "over sse"})
        assert texts(echoed) == ["over sse"], echoed
        slow = await session.call_tool("fixture__slow", {"ms": 300}, progress_callback=on_progress)
        assert not slow.is_error, slow
        assert progress, "no progress notifications reached the SSE client"
        with pytest.raises(MCPError) as missing:
            await session.call_tool("fixture__nope", {})
        assert "fixture__nope" in missing.value.message, missing.value


def test_messages_needs_a_live_session(hub: harness.Hub) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    r = httpx.post(hub.url("/messages?sessionId=nope"), json=body, timeout=5)
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == -32600
    r = httpx.get(hub.url("/sse"), headers={"Host": "evil.example"}, timeout=5)
    assert r.status_code == 403, r.text
