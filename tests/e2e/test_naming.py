"""Federated names: prefix modes, per-upstream include/exclude/rename, length cap, paging.

Two stdio fixtures share every tool, prompt and resource name; `alpha` alone also has the
synthetic tools `tool_0 … tool_2` (`--tools 3`), so it has names no other upstream has.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import harness
import pytest
from mcp.shared.exceptions import MCPError
from mcp_util import MODES, all_prompts, all_tools, client, texts
from raw_mcp import RawSession, RpcError

pytestmark = pytest.mark.anyio

FIXTURE_TEXT = "This is a simple text response for testing."
SHARED_TOOLS = ("echo", "slow", "count_calls", "test_simple_text")
UNIQUE_TOOLS = ("tool_0", "tool_1", "tool_2")
TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
INVALID_PARAMS = -32602


def two_fixtures() -> dict[str, dict]:
    return {"alpha": harness.fixture_stdio_spec("--tools", "3"), "beta": harness.fixture_stdio_spec()}


@pytest.fixture(scope="module")
def conditional_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Hub]:
    hub = harness.start_hub(
        tmp_path_factory.mktemp("hub-conditional"),
        two_fixtures(),
        name="agentmux-conditional",
        settings={"mcp": {"prefix": "conditional"}},
    )
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def never_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Hub]:
    hub = harness.start_hub(
        tmp_path_factory.mktemp("hub-never"), two_fixtures(), name="agentmux-never", settings={"mcp": {"prefix": "never"}}
    )
    yield hub
    hub.stop()


# === prefix modes ===


@pytest.mark.parametrize("mode", MODES)
async def test_prefix_always_is_the_default(hub: harness.Hub, mode: str) -> None:
    async with client(hub.url("/mcp"), mode) as c:
        names = [t.name for t in await all_tools(c)]
    assert names and all("__" in n for n in names), [n for n in names if "__" not in n]


@pytest.mark.parametrize("mode", MODES)
async def test_prefix_conditional(conditional_hub: harness.Hub, mode: str) -> None:
    async with client(conditional_hub.url("/mcp"), mode) as c:
        names = [t.name for t in await all_tools(c)]
        assert len(names) == len(set(names)), names
        for tool in SHARED_TOOLS:
            assert f"alpha__{tool}" in names and f"beta__{tool}" in names, (tool, names)
            assert tool not in names, f"shared `{tool}` is listed unprefixed: {names}"
        for tool in UNIQUE_TOOLS:
            assert tool in names, f"unique `{tool}` is not listed unprefixed: {names}"
            assert f"alpha__{tool}" not in names, names

        assert texts(await c.call_tool("tool_1", {"value": "plain"})) == ["tool_1: plain"]
        assert texts(await c.call_tool("alpha__echo", {"text": "a"})) == ["a"]
        assert texts(await c.call_tool("beta__echo", {"text": "b"})) == ["b"]
        with pytest.raises(MCPError):
            await c.call_tool("echo", {"text": "which one?"})

        prompts = [p.name for p in await all_prompts(c)]
        assert "alpha__test_simple_prompt" in prompts and "beta__test_simple_prompt" in prompts, prompts
        assert "test_simple_prompt" not in prompts, prompts


async def test_prefix_conditional_calls_reach_the_right_upstream(conditional_hub: harness.Hub) -> None:
    """`count_calls` counts per process: a call to alpha__… must not reach beta."""
    async with client(conditional_hub.url("/mcp"), "legacy") as c:
        a0 = (await c.call_tool("alpha__count_calls", {})).structured_content["count"]
        b0 = (await c.call_tool("beta__count_calls", {})).structured_content["count"]
        await c.call_tool("tool_0", {})  # alpha only
        a1 = (await c.call_tool("alpha__count_calls", {})).structured_content["count"]
        b1 = (await c.call_tool("beta__count_calls", {})).structured_content["count"]
    assert a1 - a0 == 2, (a0, a1)
    assert b1 - b0 == 1, (b0, b1)


@pytest.mark.parametrize("mode", MODES)
async def test_prefix_never_hides_shared_names(never_hub: harness.Hub, mode: str) -> None:
    async with client(never_hub.url("/mcp"), mode) as c:
        names = [t.name for t in await all_tools(c)]
        assert sorted(names) == sorted(UNIQUE_TOOLS), names
        assert texts(await c.call_tool("tool_2", {"value": "v"})) == ["tool_2: v"]
        for shared in ("echo", "alpha__echo"):
            with pytest.raises(MCPError):
                await c.call_tool(shared, {"text": "x"})
        # Both fixtures offer the same prompts and resources: none of them is served.
        assert [p.name for p in await all_prompts(c)] == []
        resources = await c.list_resources()
        assert resources.resources == [], resources

    # Each upstream's own endpoint still offers everything, unprefixed.
    async with client(never_hub.url("/mcp/beta"), mode) as c:
        assert texts(await c.call_tool("echo", {"text": "direct"})) == ["direct"]


# === include / exclude / rename, max_name_length ===

LONG_UPSTREAM = "longname-upstream"  # 17 characters: with `__`, only names up to 5 characters fit in 24
MAX_LEN = 24


@pytest.fixture(scope="module")
def shaped_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Hub]:
    shaped = harness.fixture_stdio_spec("--tools", "3")
    shaped["tools"] = {
        "include": ["test_*", "echo", "tool_*", "count_calls"],
        # (what is left of test_* fits in max_name_length once prefixed with `fx__`)
        "exclude": ["test_*_content*", "test_elicitation*", "test_tool_with_*", "test_embedded_*", "tool_2"],
        "rename": {"echo": "say", "tool_0": "first"},
    }
    shaped["prompts"] = {"include": ["test_simple_prompt"]}
    upstreams = {"fx": shaped, LONG_UPSTREAM: harness.fixture_stdio_spec("--tools", "12")}
    hub = harness.start_hub(
        tmp_path_factory.mktemp("hub-shaped"),
        upstreams,
        name="agentmux-shaped",
        settings={"mcp": {"max_name_length": MAX_LEN, "page_size": 5}},
    )
    yield hub
    hub.stop()


@pytest.mark.parametrize("mode", MODES)
async def test_include_exclude_rename(shaped_hub: harness.Hub, mode: str) -> None:
    async with client(shaped_hub.url("/mcp"), mode) as c:
        names = {t.name for t in await all_tools(c) if t.name.startswith("fx__")}
        expected = {
            "fx__test_simple_text",
            "fx__test_error_handling",
            "fx__test_reconnection",
            "fx__test_sampling",
            "fx__say",
            "fx__first",
            "fx__tool_1",
            "fx__count_calls",
        }
        assert names == expected, f"extra {sorted(names - expected)}, missing {sorted(expected - names)}"

        assert texts(await c.call_tool("fx__say", {"text": "renamed"})) == ["renamed"]
        assert texts(await c.call_tool("fx__first", {"value": "x"})) == ["tool_0: x"]
        for hidden in ("fx__echo", "fx__tool_0", "fx__tool_2", "fx__test_image_content", "fx__slow", "fx__payload_1k"):
            with pytest.raises(MCPError):
                await c.call_tool(hidden, {})

        prompts = {p.name for p in await all_prompts(c) if p.name.startswith("fx__")}
        assert prompts == {"fx__test_simple_prompt"}, prompts

    # The single-upstream endpoint applies the same shaping, unprefixed.
    async with client(shaped_hub.url("/mcp/fx"), mode) as c:
        names = {t.name for t in await all_tools(c)}
        assert "say" in names and "echo" not in names and "tool_2" not in names, names


async def test_excluded_tool_never_reaches_the_upstream(shaped_hub: harness.Hub) -> None:
    async with client(shaped_hub.url("/mcp"), "legacy") as c:
        before = (await c.call_tool("fx__count_calls", {})).structured_content["count"]
        with pytest.raises(MCPError):
            await c.call_tool("fx__slow", {"ms": 0})
        after = (await c.call_tool("fx__count_calls", {})).structured_content["count"]
    assert after - before == 1, f"an excluded tool's call reached the upstream ({before} → {after})"


@pytest.mark.parametrize("mode", MODES)
async def test_max_name_length_shortens_and_stays_callable(shaped_hub: harness.Hub, mode: str) -> None:
    async with client(shaped_hub.url("/mcp"), mode) as c:
        tools = await all_tools(c)
        names = [t.name for t in tools]
        assert len(names) == len(set(names)), f"shortening made duplicates: {names}"
        too_long = [n for n in names if len(n) > MAX_LEN]
        assert not too_long, f"names over {MAX_LEN}: {too_long}"
        assert all(TOOL_NAME.match(n) for n in names), names
        # Names that fit are left alone.
        assert "fx__say" in names and "fx__test_simple_text" in names, names

        async with client(shaped_hub.url(f"/mcp/{LONG_UPSTREAM}"), mode) as direct:
            originals = {t.name: t.description for t in await all_tools(direct)}
        long_ones = {t.description: t.name for t in tools if not t.name.startswith("fx__")}
        assert len(long_ones) == len(originals) == 19 + 12, sorted(long_ones.values())
        shortened = re.compile(rf"^{re.escape(LONG_UPSTREAM[: MAX_LEN - 9])}_[0-9a-f]{{8}}$")
        exposed: dict[str, str] = {}  # original name → federated name
        for original, description in originals.items():
            federated = f"{LONG_UPSTREAM}__{original}"
            exposed[original] = long_ones[description]  # descriptions are carried and unique
            if len(federated) <= MAX_LEN:
                assert exposed[original] == federated, (original, exposed[original])
            else:
                assert shortened.match(exposed[original]), (original, exposed[original])
        assert sum(1 for n in exposed.values() if shortened.match(n)) >= 25, exposed

        # Callable under the shortened names.
        assert texts(await c.call_tool(exposed["test_simple_text"], {})) == [FIXTURE_TEXT]
        assert texts(await c.call_tool(exposed["tool_11"], {"value": "v"})) == ["tool_11: v"]
        payload = await c.call_tool(exposed["payload_1k"], {})
        assert len(texts(payload)[0]) == 1024
        assert texts(await c.call_tool(exposed["echo"], {"text": "short"})) == ["short"]

    # Deterministic: a new session sees the same names.
    async with client(shaped_hub.url("/mcp"), mode) as c:
        again = [t.name for t in await all_tools(c)]
    assert sorted(again) == sorted(names)


# === pagination ===


def test_pagination_pages_every_list(shaped_hub: harness.Hub) -> None:
    with RawSession(shaped_hub.url("/mcp")) as s:
        pages: list[list[str]] = []
        cursor = None
        for _ in range(50):
            result = s.request("tools/list", {"cursor": cursor} if cursor else {})
            pages.append([t["name"] for t in result["tools"]])
            cursor = result.get("nextCursor")
            if not cursor:
                break
        assert cursor is None, "tools/list paging did not end"
        names = [n for page in pages for n in page]
        assert len(names) == len(set(names)), f"duplicates across pages: {pages}"
        assert all(len(p) == 5 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 5, [len(p) for p in pages]

        fx_count = len(s.list_all("tools/list", "tools"))  # the helper pages too
        assert fx_count == len(names)
        # Every tool of each upstream, through its own (also paged) endpoint, is in the union.
        for upstream in ("fx", LONG_UPSTREAM):
            with RawSession(shaped_hub.url(f"/mcp/{upstream}")) as single:
                count = len(single.list_all("tools/list", "tools"))
            listed = [n for n in names if n.startswith("fx__")] if upstream == "fx" else [
                n for n in names if not n.startswith("fx__")
            ]
            assert len(listed) == count, (upstream, count, listed)

        prompts = s.list_all("prompts/list", "prompts")
        assert len(prompts) == 1 + 4, [p["name"] for p in prompts]
        resources = s.list_all("resources/list", "resources")
        assert len({r["uri"] for r in resources}) == len(resources) == 6, resources


@pytest.mark.parametrize("mode", MODES)
async def test_pagination_with_sdk_client(shaped_hub: harness.Hub, mode: str) -> None:
    async with client(shaped_hub.url("/mcp"), mode) as c:
        first = await c.list_tools()
        assert len(first.tools) == 5 and first.next_cursor, first
        names = [t.name for t in await all_tools(c)]
    assert len(names) == len(set(names)) == 9 + 30, names


@pytest.mark.parametrize("cursor", ["not-a-cursor!", "AAAA"])
def test_invalid_cursor_is_invalid_params(shaped_hub: harness.Hub, cursor: str) -> None:
    with RawSession(shaped_hub.url("/mcp")) as s:
        for method in ("tools/list", "prompts/list", "resources/list"):
            with pytest.raises(RpcError) as excinfo:
                s.request(method, {"cursor": cursor})
            assert excinfo.value.code == INVALID_PARAMS, (method, excinfo.value.error)


async def test_invalid_cursor_with_sdk_client(shaped_hub: harness.Hub) -> None:
    async with client(shaped_hub.url("/mcp"), "legacy") as c:
        with pytest.raises(MCPError) as excinfo:
            await c.list_tools(cursor="definitely-not-a-cursor")
    assert excinfo.value.error.code == INVALID_PARAMS, excinfo.value.error
