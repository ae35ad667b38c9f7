"""The Python `mcp` 2.x client against the federated `/mcp` and the single-upstream `/mcp/{name}`.

Every test runs in both client modes: `legacy` (initialize, 2025-11-25, stateful) and
`auto` (server/discover first; agentmux speaks 2026-07-28, so that era is chosen).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import harness
import httpx
import pytest
from conftest import EVERYTHING_ENV_MARK, FS_FILE_NAME, FS_FILE_TEXT
from mcp.shared.exceptions import MCPError
from mcp.types import TextResourceContents
from mcp_util import EXPECTED_VERSION, MODES, all_prompts, all_resources, all_tools, client, texts

pytestmark = pytest.mark.anyio

TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
FIXTURE_TEXT = "This is a simple text response for testing."
STATIC_DOC = "demo://resource/static/document/architecture.md"
OTHER_DOC = "demo://resource/static/document/features.md"


def test_healthz_and_readyz(hub: harness.Hub) -> None:
    with httpx.Client(timeout=10) as http:
        assert http.get(hub.url("/healthz")).status_code == 200
        assert http.get(hub.url("/readyz")).status_code == 200


async def test_metrics_count_requests_and_upstreams(hub: harness.Hub) -> None:
    async with client(hub.url("/mcp"), "legacy") as c:
        await c.list_tools()
        with pytest.raises(MCPError):
            await c.call_tool("fixture__no_such_tool", {})
    with httpx.Client(timeout=10) as http:
        r = http.get(hub.url("/metrics"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/openmetrics-text"), r.headers
    lines = r.text.splitlines()
    assert any(l.startswith('agentmux_mcp_requests_total{method="tools/list",outcome="ok"} ') for l in lines), r.text
    assert any(l.startswith('agentmux_mcp_requests_total{method="tools/call",outcome="invalid_params"} ') for l in lines), r.text
    for upstream in ("everything", "fs", "fixture"):
        assert f'agentmux_upstream_up{{upstream="{upstream}"}} 1' in lines, r.text
    assert any(l.startswith("agentmux_mcp_sessions ") for l in lines), r.text


@pytest.mark.parametrize("mode", MODES)
async def test_federated_catalog_is_namespaced(hub: harness.Hub, mode: str) -> None:
    async with client(hub.url("/mcp"), mode) as c:
        assert c.protocol_version == EXPECTED_VERSION[mode]
        names = [t.name for t in await all_tools(c)]
    assert len(names) == len(set(names)), f"duplicate tool names: {sorted(names)}"
    for expected in (
        "everything__echo",
        "everything__trigger-long-running-operation",
        "fs__read_text_file",
        "fixture__test_simple_text",
    ):
        assert expected in names, f"{expected} missing from {sorted(names)}"
    bad = [n for n in names if not TOOL_NAME.match(n)]
    assert not bad, f"tool names outside MCP's [A-Za-z0-9_.-]{{1,128}}: {bad}"
    unprefixed = [n for n in names if "__" not in n]
    assert not unprefixed, f"federated names without an upstream prefix: {unprefixed}"
    assert {n.split("__", 1)[0] for n in names} == {"everything", "fs", "fixture"}


@pytest.mark.parametrize("mode", MODES)
async def test_federated_tool_calls_reach_real_upstreams(hub: harness.Hub, fs_root: Path, mode: str) -> None:
    async with client(hub.url("/mcp"), mode) as c:
        echo = await c.call_tool("everything__echo", {"message": f"hello via agentmux ({mode})"})
        assert not echo.is_error, echo
        assert texts(echo) == [f"Echo: hello via agentmux ({mode})"]

        read = await c.call_tool("fs__read_text_file", {"path": str(fs_root / FS_FILE_NAME)})
        assert not read.is_error, read
        assert texts(read) == [FS_FILE_TEXT]

        simple = await c.call_tool("fixture__test_simple_text", {})
        assert not simple.is_error, simple
        assert texts(simple) == [FIXTURE_TEXT]

        # The registry's `env:` reaches the stdio child.
        env = await c.call_tool("everything__get-env", {})
        assert not env.is_error, env
        child_env = json.loads(texts(env)[0])
        assert child_env.get(EVERYTHING_ENV_MARK[0]) == EVERYTHING_ENV_MARK[1]


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_tool_is_a_jsonrpc_error(hub: harness.Hub, mode: str) -> None:
    async with client(hub.url("/mcp"), mode) as c:
        with pytest.raises(MCPError):
            await c.call_tool("nosuchupstream__echo", {"message": "x"})


@pytest.mark.parametrize("mode", MODES)
async def test_federated_prompts_and_resources(hub: harness.Hub, mode: str) -> None:
    async with client(hub.url("/mcp/everything"), mode) as direct:
        expected = await direct.read_resource(STATIC_DOC)
    expected_text = [x.text for x in expected.contents if isinstance(x, TextResourceContents)]
    assert expected_text and expected_text[0].startswith("#"), expected

    async with client(hub.url("/mcp"), mode) as c:
        prompts = [p.name for p in await all_prompts(c)]
        assert "everything__simple-prompt" in prompts, prompts
        assert "everything__args-prompt" in prompts, prompts
        prompt = await c.get_prompt("everything__args-prompt", {"city": "Lisbon"})
        assert prompt.messages, prompt
        assert "Lisbon" in json.dumps(prompt.model_dump(mode="json"))

        resources = await all_resources(c)
        # URIs are rewritten reversibly by the hub; the document's path survives it.
        matches = [r for r in resources if "architecture.md" in urllib.parse.unquote(str(r.uri))]
        assert len(matches) == 1, [str(r.uri) for r in resources]
        read = await c.read_resource(matches[0].uri)
        got_text = [x.text for x in read.contents if isinstance(x, TextResourceContents)]
        assert got_text == expected_text
        # The content's URI is the federated one the client asked for, not the upstream's.
        assert str(read.contents[0].uri) == str(matches[0].uri)


@pytest.mark.parametrize("mode", MODES)
async def test_single_upstream_endpoint_is_unprefixed(hub: harness.Hub, mode: str) -> None:
    async with client(hub.url("/mcp/everything"), mode) as c:
        assert c.protocol_version == EXPECTED_VERSION[mode]
        names = [t.name for t in await all_tools(c)]
        assert "echo" in names and "trigger-long-running-operation" in names, names
        assert not [n for n in names if n.startswith("everything__")], names
        assert not [n for n in names if n.startswith(("fs__", "fixture__", "read_text_file"))], names

        echo = await c.call_tool("echo", {"message": "unprefixed"})
        assert texts(echo) == ["Echo: unprefixed"]

        prompts = [p.name for p in await all_prompts(c)]
        assert "simple-prompt" in prompts, prompts
        simple = await c.get_prompt("simple-prompt")
        assert simple.messages

        uris = [str(r.uri) for r in await all_resources(c)]
        assert STATIC_DOC in uris, uris
        read = await c.read_resource(STATIC_DOC)
        assert read.contents and str(read.contents[0].uri) == STATIC_DOC

    async with client(hub.url("/mcp/fs"), mode) as c:
        names = [t.name for t in await all_tools(c)]
        assert "read_text_file" in names and "echo" not in names, names


def test_unknown_upstream_endpoint_is_404(hub: harness.Hub) -> None:
    with httpx.Client(timeout=10) as http:
        r = http.post(
            hub.url("/mcp/no-such-upstream"),
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": EXPECTED_VERSION["legacy"],
                    "capabilities": {},
                    "clientInfo": {"name": "agentmux-e2e", "version": "0"},
                },
            },
            headers={"Accept": "application/json, text/event-stream"},
        )
    assert r.status_code == 404, (r.status_code, r.text)


def test_resource_updates_reach_subscribed_sessions_only(hub: harness.Hub) -> None:
    """A federated client subscribes to a resource by its agentmux:// URI; server-everything's
    simulated updates (every 5 s once toggled) reach that client's GET stream under the same URI,
    and not a session that did not subscribe."""
    from raw_mcp import RawSession

    uri = f"agentmux://everything/{STATIC_DOC}"
    other_uri = f"agentmux://everything/{OTHER_DOC}"
    with RawSession(hub.url("/mcp")) as subscriber, RawSession(hub.url("/mcp")) as bystander:
        sub_stream = subscriber.open_get_stream()
        other_stream = bystander.open_get_stream()
        # The bystander takes the upstream's logs: they show how far its stream has got.
        assert bystander.request("logging/setLevel", {"level": "debug"}) == {}
        try:
            assert subscriber.request("resources/subscribe", {"uri": uri}) == {}
            toggled = subscriber.request("tools/call", {"name": "everything__toggle-subscriber-updates", "arguments": {}})
            try:
                update = sub_stream.wait_for("notifications/resources/updated", timeout=12)
                assert update["params"]["uri"] == uri, update
                # A later message from the same upstream to the bystander: server-everything logs
                # the bystander's own subscribe (to another document). Had the hub sent the
                # bystander the update above, it would have come first.
                assert bystander.request("resources/subscribe", {"uri": other_uri}) == {}
                marker = f"Received Subscribe Resource request for URI: {OTHER_DOC}"
                seen: list[dict[str, Any]] = []

                def marker_seen() -> bool:
                    while not other_stream.queue.empty():
                        seen.append(other_stream.queue.get_nowait())
                    return any(marker in json.dumps(m) for m in seen)

                harness.wait_until(marker_seen, 10, lambda: f"the bystander's GET stream to carry {marker!r} (saw {seen})")
                before = seen[: next(i for i, m in enumerate(seen) if marker in json.dumps(m))]
                assert not [m for m in before if m.get("method") == "notifications/resources/updated"], before
            finally:
                # Toggle back: the shared upstream connection keeps its simulation otherwise.
                if "Started" in json.dumps(toggled) or "enabled" in json.dumps(toggled).lower():
                    subscriber.request("tools/call", {"name": "everything__toggle-subscriber-updates", "arguments": {}})
                bystander.request("resources/unsubscribe", {"uri": other_uri})
        finally:
            sub_stream.close()
            other_stream.close()
