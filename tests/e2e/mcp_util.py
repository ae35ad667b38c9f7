"""Small helpers over the Python `mcp` 2.x client used by several test modules.

Era selection in mcp 2.3.0 is the `mode=` keyword of `mcp.Client`:
  Client(url, mode="legacy")      initialize handshake (2025-11-25 and older, stateful session)
  Client(url, mode="auto")        the default: probe `server/discover` at 2026-07-28, fall back
                                  to initialize when the server is legacy-only
  Client(url, mode="2026-07-28")  adopt the modern era directly, no probe
`client.protocol_version` tells what was negotiated.
"""

from __future__ import annotations

import json
from typing import Any

from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, Prompt, Resource, TextContent, Tool

LEGACY_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
MODES = ("legacy", "auto")
EXPECTED_VERSION = {"legacy": LEGACY_VERSION, "auto": MODERN_VERSION}

# Bounds every request of a test client, so a hub that never answers fails the test
# instead of hanging it.
READ_TIMEOUT_S = 30.0


def client(url: str, mode: str, **kwargs: Any) -> Client:
    kwargs.setdefault("read_timeout_seconds", READ_TIMEOUT_S)
    # No response cache: every list must reach the hub.
    kwargs.setdefault("cache", None)
    return Client(url, mode=mode, **kwargs)


async def all_tools(c: Client) -> list[Tool]:
    out: list[Tool] = []
    cursor: str | None = None
    for _ in range(100):
        page = await c.list_tools(cursor=cursor)
        out.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            return out
    raise AssertionError("tools/list pagination did not end within 100 pages")


async def all_prompts(c: Client) -> list[Prompt]:
    out: list[Prompt] = []
    cursor: str | None = None
    for _ in range(100):
        page = await c.list_prompts(cursor=cursor)
        out.extend(page.prompts)
        cursor = page.next_cursor
        if cursor is None:
            return out
    raise AssertionError("prompts/list pagination did not end within 100 pages")


async def all_resources(c: Client) -> list[Resource]:
    out: list[Resource] = []
    cursor: str | None = None
    for _ in range(100):
        page = await c.list_resources(cursor=cursor)
        out.extend(page.resources)
        cursor = page.next_cursor
        if cursor is None:
            return out
    raise AssertionError("resources/list pagination did not end within 100 pages")


def texts(result: CallToolResult) -> list[str]:
    return [block.text for block in result.content if isinstance(block, TextContent)]


def error_text(err: MCPError) -> str:
    """Message and data of a JSON-RPC error, for checks like 'names the upstream'."""
    data = err.data
    return f"{err.message} {json.dumps(data) if data is not None else ''}"
