"""An upstream written with the Python `mcp` SDK (servers/py_server.py, Streamable HTTP).

Fidelity: what the Python server lists and returns reaches `/mcp` clients intact — the hub
changes the names (and resource URIs) and nothing else: `title`, `outputSchema`, `annotations`,
`_meta`, `icons`, `structuredContent`, the result's `_meta`, content annotations.

Session expiry: the Python server is restarted on the same port in the middle of a client's hub
session; the new process does not know agentmux's upstream session (404), and the hub
initializes again without the client noticing.

Every test runs against the server in two kinds: `dual` (the SDK's default, both eras: the hub
may pick 2026-07-28) and `legacy` (`--legacy-only`: the stateful era alone, with sessions).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import harness
import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import TextResourceContents
from mcp_util import MODES, all_prompts, all_resources, all_tools, client, texts
from raw_mcp import RawSession

pytestmark = pytest.mark.anyio

UP = "py"
RESOURCE_URI = "e2e://notes/readme"
FEDERATED_URI = f"agentmux://{UP}/{RESOURCE_URI}"
ICON = {"src": "https://example.com/icons/e2e.png", "mimeType": "image/png", "sizes": ["48x48"], "theme": "light"}
TOOL_META = {"com.example/owner": "agentmux-e2e", "com.example/tags": ["notes", "danger"], "com.example/rank": 3}
RESULT_META = {"com.example/trace": "abc123", "com.example/cost": {"units": 7}}
RESOURCE_META = {"com.example/source": "py_server", "com.example/version": 2}
FORECAST = {
    "city": "Oslo",
    "temperature_c": 21.5,
    "conditions": ["sunny", "windy", "sunny", "windy"],
    "details": {"humidity": 40, "days": 2},
}
RECEIPT = {"order": "A1", "total": 12.5, "items": [{"sku": 1, "qty": 2}, {"sku": 7, "qty": 1}]}
# After a restart the hub may first notice the dead server (connection refused) before the
# new one answers 404 for the old session; a few seconds cover both.
RECONNECT_WITHIN_S = 15.0


SERVER_KINDS = ("dual", "legacy")


@pytest.fixture(scope="module", params=SERVER_KINDS)
def py_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.PyServer]:
    kind = request.param
    server = harness.start_py_server(tmp_path_factory.mktemp(f"py-server-{kind}"), legacy_only=kind == "legacy")
    yield server
    server.proc.stop()


@pytest.fixture(scope="module")
def py_hub(tmp_path_factory: pytest.TempPathFactory, py_server: harness.PyServer) -> Iterator[harness.Hub]:
    hub = harness.start_hub(
        tmp_path_factory.mktemp("hub-py"),
        {UP: harness.http_spec(py_server.url), "fixture": harness.fixture_stdio_spec()},
        name="agentmux-py",
    )
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def direct_lists(py_server: harness.PyServer) -> dict[str, list[dict[str, Any]]]:
    """What the Python server itself lists, as raw JSON."""
    with RawSession(py_server.url) as s:
        return {
            "tools": s.list_all("tools/list", "tools"),
            "prompts": s.list_all("prompts/list", "prompts"),
            "resources": s.list_all("resources/list", "resources"),
        }


def by(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


RESERVED_META = "io.modelcontextprotocol/"  # protocol keys: per hop, not the server's data
SERVER_INFO_META = "io.modelcontextprotocol/serverInfo"


def user_meta(meta: dict[str, Any] | None) -> dict[str, Any]:
    """`_meta` without the protocol's reserved keys."""
    return {k: v for k, v in (meta or {}).items() if not k.startswith(RESERVED_META)}


def assert_carried(upstream_item: dict[str, Any], hub_item: dict[str, Any], renamed: dict[str, str]) -> None:
    """Every field of the upstream's item is in the hub's item with the same value (bar `renamed`).

    In `_meta`, the server's own keys are compared; the protocol's reserved keys belong to each hop
    (test_server_info_stamp_is_not_the_upstreams checks them).
    """
    for field, value in upstream_item.items():
        expected = renamed.get(field, value)
        assert field in hub_item, f"field `{field}` dropped by the hub: upstream {upstream_item}, hub {hub_item}"
        if field == "_meta":
            assert user_meta(hub_item[field]) == user_meta(value), f"_meta changed: upstream {value}, hub {hub_item[field]}"
            continue
        assert hub_item[field] == expected, f"field `{field}` changed: upstream {value!r}, hub {hub_item[field]!r}"


# === fidelity, raw JSON ===


def test_lists_carry_every_field_raw(py_hub: harness.Hub, direct_lists: dict[str, list[dict[str, Any]]]) -> None:
    direct_tools = by(direct_lists["tools"], "name")
    assert {"forecast", "receipt", "delete_note", "whoami", "add_tool"} <= set(direct_tools), direct_tools.keys()
    # The server really offers what this test is about.
    assert "outputSchema" in direct_tools["forecast"] and direct_tools["delete_note"]["_meta"] == TOOL_META

    with RawSession(py_hub.url("/mcp")) as s:
        hub_tools = by(s.list_all("tools/list", "tools"), "name")
        hub_prompts = by(s.list_all("prompts/list", "prompts"), "name")
        hub_resources = by(s.list_all("resources/list", "resources"), "uri")

    for name, tool in direct_tools.items():
        federated = f"{UP}__{name}"
        assert federated in hub_tools, f"{federated} not listed: {sorted(hub_tools)}"
        assert_carried(tool, hub_tools[federated], {"name": federated})

    for name, prompt in by(direct_lists["prompts"], "name").items():
        federated = f"{UP}__{name}"
        assert federated in hub_prompts, f"{federated} not listed: {sorted(hub_prompts)}"
        assert_carried(prompt, hub_prompts[federated], {"name": federated})

    direct_resources = by(direct_lists["resources"], "uri")
    assert RESOURCE_URI in direct_resources, direct_resources.keys()
    assert FEDERATED_URI in hub_resources, f"{FEDERATED_URI} not listed: {sorted(hub_resources)}"
    assert_carried(direct_resources[RESOURCE_URI], hub_resources[FEDERATED_URI], {"uri": FEDERATED_URI})


def test_call_results_carry_every_field_raw(py_hub: harness.Hub, py_server: harness.PyServer) -> None:
    calls = [("forecast", {"city": "Oslo", "days": 2}), ("receipt", {"order": "A1"})]
    with RawSession(py_server.url) as direct:
        expected = {name: direct.request("tools/call", {"name": name, "arguments": args}) for name, args in calls}
    assert expected["receipt"]["_meta"] == RESULT_META, expected["receipt"]

    with RawSession(py_hub.url("/mcp")) as s:
        for name, args in calls:
            got = s.request("tools/call", {"name": f"{UP}__{name}", "arguments": args})
            assert_carried(expected[name], got, {})




@pytest.mark.parametrize("mode", MODES)
async def test_server_info_stamp_is_not_the_upstreams(
    request: pytest.FixtureRequest, py_hub: harness.Hub, py_server: harness.PyServer, mode: str
) -> None:
    """A 2026-07-28 server stamps its identity on every result; through the hub the server is
    agentmux, so the stamp is agentmux's or absent — never the upstream's. Results on a
    2025-11-25 session carry no stamp at all."""
    async with client(py_hub.url("/mcp"), mode) as c:
        hub_name = c.server_info.name if c.server_info else "agentmux"
        results = [
            await c.call_tool(f"{UP}__receipt", {"order": "A1"}),
            await c.call_tool(f"{UP}__forecast", {"city": "Oslo"}),
            await c.get_prompt(f"{UP}__travel_plan", {"destination": "Porto"}),
            await c.read_resource(FEDERATED_URI),
        ]
        version = c.protocol_version
    for result in results:
        stamp = (result.meta or {}).get(SERVER_INFO_META)
        if version == "2025-11-25":
            assert stamp is None, f"a 2025-11-25 result carries {SERVER_INFO_META}: {stamp}"
        else:
            assert stamp is None or stamp.get("name") == hub_name, (
                f"{type(result).__name__} carries the upstream's identity {stamp}, not agentmux's ({hub_name})"
            )


# === fidelity, through the SDK client (both eras) ===


@pytest.mark.parametrize("mode", MODES)
async def test_tool_fields_reach_sdk_client(py_hub: harness.Hub, mode: str) -> None:
    async with client(py_hub.url("/mcp"), mode) as c:
        tools = {t.name: t for t in await all_tools(c)}

    forecast = tools[f"{UP}__forecast"]
    assert forecast.title == "Weather forecast"
    assert forecast.description == "Forecast for a city, as structured data."
    assert forecast.output_schema is not None
    assert forecast.output_schema["title"] == "Forecast"
    assert forecast.output_schema["required"] == ["city", "temperature_c", "conditions", "details"]
    assert forecast.output_schema["properties"]["details"] == {
        "additionalProperties": {"type": "integer"},
        "title": "Details",
        "type": "object",
    }
    assert forecast.input_schema["required"] == ["city"]

    delete = tools[f"{UP}__delete_note"]
    assert delete.title == "Delete a note"
    assert delete.annotations is not None
    assert delete.annotations.model_dump(by_alias=True, exclude_none=True) == {
        "title": "Delete note (annotation title)",
        "readOnlyHint": False,
        "destructiveHint": True,
        "idempotentHint": True,
        "openWorldHint": False,
    }
    assert delete.meta == TOOL_META
    assert delete.icons is not None
    assert [i.model_dump(by_alias=True, exclude_none=True) for i in delete.icons] == [ICON]


@pytest.mark.parametrize("mode", MODES)
async def test_structured_results_reach_sdk_client(py_hub: harness.Hub, mode: str) -> None:
    async with client(py_hub.url("/mcp"), mode) as c:
        forecast = await c.call_tool(f"{UP}__forecast", {"city": "Oslo", "days": 2})
        assert not forecast.is_error, forecast
        assert forecast.structured_content == FORECAST

        receipt = await c.call_tool(f"{UP}__receipt", {"order": "A1"})
        assert not receipt.is_error, receipt
        assert receipt.structured_content == RECEIPT
        assert user_meta(receipt.meta) == RESULT_META
        assert texts(receipt) == ["receipt for A1"]
        block = receipt.content[0]
        assert block.annotations is not None and block.annotations.audience == ["user"]
        assert block.annotations.priority == 0.3
        assert block.meta == {"com.example/block": True}

        deleted = await c.call_tool(f"{UP}__delete_note", {"note_id": "n-7"})
        assert texts(deleted) == ["deleted n-7"]
        assert deleted.structured_content == {"result": "deleted n-7"}


@pytest.mark.parametrize("mode", MODES)
async def test_prompt_and_resource_reach_sdk_client(py_hub: harness.Hub, mode: str) -> None:
    async with client(py_hub.url("/mcp"), mode) as c:
        prompts = {p.name: p for p in await all_prompts(c)}
        plan = prompts[f"{UP}__travel_plan"]
        assert plan.title == "Travel plan"
        assert plan.description == "Plans a trip."
        assert [(a.name, a.required) for a in plan.arguments or []] == [("destination", True), ("nights", False)]
        assert plan.icons and plan.icons[0].src == ICON["src"]
        got = await c.get_prompt(f"{UP}__travel_plan", {"destination": "Porto", "nights": "3"})
        assert [m.content.text for m in got.messages] == ["Plan 3 nights in Porto."]

        resources = {str(r.uri): r for r in await all_resources(c)}
        assert FEDERATED_URI in resources, sorted(resources)
        readme = resources[FEDERATED_URI]
        assert readme.name == "readme" and readme.title == "Read me"
        assert readme.mime_type == "text/markdown"
        assert readme.meta == RESOURCE_META
        assert readme.annotations is not None and readme.annotations.priority == 0.7
        assert readme.icons and readme.icons[0].src == ICON["src"]

        read = await c.read_resource(FEDERATED_URI)
        assert len(read.contents) == 1, read
        content = read.contents[0]
        assert isinstance(content, TextResourceContents)
        assert content.text == "# Notes\nserved by the Python upstream\n"
        assert str(content.uri) == FEDERATED_URI
        assert content.mime_type == "text/markdown"
        assert content.meta == RESOURCE_META


# === the upstream restarts: its sessions are gone (404), the hub re-initializes ===


async def call_until_ok(c: Any, name: str, args: dict[str, Any], timeout: float) -> Any:
    """Call until the result is not an error; the last failure is in the assertion message."""
    import anyio

    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = await c.call_tool(name, args, read_timeout_seconds=5)
            if not result.is_error:
                return result
            last = result
        except MCPError as e:
            last = e.error
        await anyio.sleep(0.1)
    raise AssertionError(f"{name} still failing {timeout}s after the upstream restarted; last: {last}")


@pytest.mark.parametrize("kind", SERVER_KINDS)
@pytest.mark.parametrize("mode", MODES)
async def test_restarted_upstream_is_reinitialized_transparently(
    tmp_path_factory: pytest.TempPathFactory, mode: str, kind: str
) -> None:
    logs: Path = tmp_path_factory.mktemp(f"py-restart-{mode}-{kind}")
    legacy_only = kind == "legacy"
    server = harness.start_py_server(logs, "py-server-a", legacy_only=legacy_only)
    hub = None
    try:
        hub = harness.start_hub(logs / "hub", {UP: harness.http_spec(server.url)}, name=f"agentmux-py-restart-{mode}")
        async with client(hub.url("/mcp"), mode) as c:
            before = await c.call_tool(f"{UP}__whoami", {})
            assert not before.is_error, before
            assert before.structured_content["pid"] == server.proc.pid

            # Same port, new process: agentmux's upstream session id means nothing to it.
            port = server.port
            server.proc.stop()
            server = harness.start_py_server(logs, "py-server-b", port=port, legacy_only=legacy_only)

            # Same client, same hub session. (A legacy-only server answers nothing without a
            # session of its own: success proves the hub initialized with the new process.)
            after = await call_until_ok(c, f"{UP}__whoami", {}, RECONNECT_WITHIN_S)
            assert after.structured_content["pid"] == server.proc.pid, (before, after)
            forecast = await c.call_tool(f"{UP}__forecast", {"city": "Oslo", "days": 2})
            assert forecast.structured_content == FORECAST
            names = [t.name for t in await all_tools(c)]
            assert f"{UP}__forecast" in names, names

    finally:
        if hub is not None:
            hub.stop()
        server.proc.stop()
