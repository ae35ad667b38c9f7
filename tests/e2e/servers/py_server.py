"""An upstream written with the Python `mcp` SDK (2.3.0, `MCPServer`, the former FastMCP), served
over Streamable HTTP on a loopback port, for tests/e2e/test_python_upstream.py and
test_notifications.py.

    .venv/bin/python tests/e2e/servers/py_server.py [--port PORT] [--host 127.0.0.1] [--legacy-only]
        [--sse] [--require-bearer INTROSPECTION_URL --auth-log PATH]

Once it accepts connections it prints one line to stdout, `listening on http://HOST:PORT`; with
`--port 0` (the default) the port is the one the kernel picked.

The SDK serves both MCP eras on /mcp. `--legacy-only` makes it a server of the stateful era
alone (2025-11-25 and older): 2026-07-28 requests (`server/discover`, or any request with
`MCP-Protocol-Version: 2026-07-28` or an `Mcp-Method` header) get HTTP 400, as a server that
predates 2026-07-28 would answer them, so a client that probes falls back to `initialize`.

`--require-bearer URL` makes it an OAuth resource server: every HTTP request needs
`Authorization: Bearer TOKEN` with a token that the introspection endpoint at URL (RFC 7662:
POST `token=…`, answers `{"active": …}`) calls active, else HTTP 401. `--auth-log PATH` appends
one JSON line per request: the method, path, Authorization header seen, and whether it passed
(tests/e2e/test_upstream_oauth.py).

It offers one of each thing a proxy must carry without loss:
  forecast       structured output: `outputSchema` (from the return type) and `structuredContent`
  receipt        a hand-built result: `structuredContent`, result `_meta`, annotated content
  delete_note    `title`, `annotations` (all four hints), `_meta`, `icons`
  whoami         the server process's pid and start time (tells a restarted server apart)
  add_tool       registers a new tool `extra_<suffix>` and announces the change: on the session
                 (notifications/tools/list_changed, stateful era) and to subscriptions/listen
                 streams (2026-07-28)
  travel_plan    a prompt with a title, icons and two arguments (one required)
  e2e://notes/readme   a text resource with title, mimeType, annotations, icons and `_meta`

The tools, prompt and resource carry the fixed values in ICON, TOOL_META and RESOURCE_META so
the tests can check them against what agentmux lists.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Annotated, Any, TypedDict

import uvicorn

from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import Annotations, CallToolResult, Icon, TextContent, ToolAnnotations

ICON = Icon(src="https://example.com/icons/e2e.png", mimeType="image/png", sizes=["48x48"], theme="light")
TOOL_META = {"com.example/owner": "agentmux-e2e", "com.example/tags": ["notes", "danger"], "com.example/rank": 3}
RESULT_META = {"com.example/trace": "abc123", "com.example/cost": {"units": 7}}
RESOURCE_META = {"com.example/source": "py_server", "com.example/version": 2}
STARTED = time.time()
MODERN_VERSION = "2026-07-28"

server = MCPServer(
    "agentmux-e2e-python",
    title="agentmux e2e Python upstream",
    version="1.2.3",
    instructions="Test upstream for agentmux's end-to-end suite.",
    log_level="WARNING",
)


# MCPServer has no switch for `listChanged`; the low-level server takes NotificationOptions when
# it builds its initialize result. `add_tool` does announce changes, so say so.
_create_init_options = server._lowlevel_server.create_initialization_options
server._lowlevel_server.create_initialization_options = lambda notification_options=None, *a, **kw: (  # type: ignore[method-assign]
    _create_init_options(notification_options or NotificationOptions(tools_changed=True), *a, **kw)
)


class Forecast(TypedDict):
    city: str
    temperature_c: float
    conditions: list[str]
    details: dict[str, int]


@server.tool(title="Weather forecast", description="Forecast for a city, as structured data.")
def forecast(city: str, days: int = 1) -> Forecast:
    return {
        "city": city,
        "temperature_c": 21.5,
        "conditions": ["sunny", "windy"] * days,
        "details": {"humidity": 40, "days": days},
    }


class Receipt(TypedDict):
    order: str
    total: float
    items: list[dict[str, int]]


@server.tool(description="A hand-built result with `_meta` and annotated content.")
def receipt(order: str) -> Annotated[CallToolResult, Receipt]:
    data = {"order": order, "total": 12.5, "items": [{"sku": 1, "qty": 2}, {"sku": 7, "qty": 1}]}
    return CallToolResult(
        content=[
            TextContent(
                type="text",
                text=f"receipt for {order}",
                annotations=Annotations(audience=["user"], priority=0.3),
                _meta={"com.example/block": True},
            )
        ],
        structured_content=data,
        _meta=RESULT_META,
    )


@server.tool(
    title="Delete a note",
    description="Deletes a note (pretends to).",
    annotations=ToolAnnotations(
        title="Delete note (annotation title)",
        readOnlyHint=False,
        destructiveHint=True,
        idempotentHint=True,
        openWorldHint=False,
    ),
    icons=[ICON],
    meta=TOOL_META,
)
def delete_note(note_id: str) -> str:
    return f"deleted {note_id}"


@server.tool(description="The pid and start time of this server process.")
def whoami() -> dict[str, float]:
    return {"pid": os.getpid(), "started": STARTED}


@server.tool(description="Registers tool `extra_<suffix>` and announces notifications/tools/list_changed.")
async def add_tool(suffix: str, ctx: Context) -> str:
    name = f"extra_{suffix}"

    def extra() -> str:
        return f"{name} works"

    server.add_tool(extra, name=name, description=f"Added at run time ({suffix}).")
    await ctx.notify_tools_changed()  # subscriptions/listen streams (2026-07-28)
    if ctx.protocol_version != MODERN_VERSION:
        await ctx.session.send_tool_list_changed()  # the session's GET stream (stateful era)
    return f"added {name}"


@server.prompt(title="Travel plan", description="Plans a trip.", icons=[ICON])
def travel_plan(destination: str, nights: str = "2") -> str:
    return f"Plan {nights} nights in {destination}."


@server.resource(
    "e2e://notes/readme",
    name="readme",
    title="Read me",
    description="A static note.",
    mime_type="text/markdown",
    icons=[ICON],
    annotations=Annotations(audience=["user", "assistant"], priority=0.7),
    meta=RESOURCE_META,
)
def readme() -> str:
    return "# Notes\nserved by the Python upstream\n"


class LegacyOnly:
    """ASGI wrapper: refuse the 2026-07-28 era with HTTP 400, pass everything else on."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = {k.lower(): v for k, v in scope["headers"]}
            if headers.get(b"mcp-protocol-version") == MODERN_VERSION.encode() or b"mcp-method" in headers:
                body = json.dumps(
                    {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Bad Request: Missing session ID"}}
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class RequireBearer:
    """ASGI wrapper: a resource server that accepts only tokens its introspection endpoint calls
    active, and writes down every Authorization header it sees."""

    def __init__(self, app: Any, introspection_url: str, log_path: str | None) -> None:
        self.app = app
        self.introspection_url = introspection_url
        self.log_path = log_path

    async def active(self, token: str) -> bool:
        import httpx

        async with httpx.AsyncClient(timeout=5) as http:
            r = await http.post(self.introspection_url, data={"token": token})
            return r.status_code == 200 and r.json().get("active") is True

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = authorization.partition(" ")
        accepted = scheme.lower() == "bearer" and bool(token) and await self.active(token)
        if self.log_path:
            entry = {"method": scope["method"], "path": scope["path"], "authorization": authorization, "accepted": accepted}
            with open(self.log_path, "a") as log:
                log.write(json.dumps(entry) + "\n")
        if accepted:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "invalid_token"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer error="invalid_token"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (the default): a free port, printed once listening")
    parser.add_argument("--legacy-only", action="store_true")
    parser.add_argument("--sse", action="store_true", help="the legacy HTTP+SSE transport (GET /sse, POST /messages/)")
    parser.add_argument("--require-bearer", metavar="INTROSPECTION_URL", help="accept only tokens this endpoint calls active")
    parser.add_argument("--auth-log", metavar="PATH", help="append the Authorization header of every request here")
    args = parser.parse_args()
    app: Any = server.sse_app(host=args.host) if args.sse else server.streamable_http_app(host=args.host)
    if args.legacy_only:
        app = LegacyOnly(app)
    if args.require_bearer:
        app = RequireBearer(app, args.require_bearer, args.auth_log)
    ReportingServer(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")).run()


class ReportingServer(uvicorn.Server):
    """Prints `listening on http://HOST:PORT` on stdout once the socket accepts, with the port the
    kernel picked for `--port 0`, so tests never race for a port chosen in advance."""

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            print(f"listening on http://{host}:{port}", flush=True)


if __name__ == "__main__":
    main()
