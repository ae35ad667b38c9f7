"""Notifications that cross the hub: cancellation (client → upstream) and list changes
(upstream → clients).

Cancellation: the fixture's `slow` tool stops at once on `notifications/cancelled` and, with
AGENTMUX_FIXTURE_LOG=debug, logs `slow call cancelled ms=… elapsed=…` to stderr — the fixture's
own log for the HTTP fixture, agentmux's log (which relays a stdio upstream's stderr) for the
stdio one. `elapsed` below `ms` proves the upstream was told, not that the call ran out.

List changes: the Rust fixture's catalog never changes (no `listChanged`), so the Python
upstream (servers/py_server.py) provides one: its `add_tool` registers a tool and sends
notifications/tools/list_changed on its GET stream.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import harness
import httpx
import mcp.types as types
import pytest
from mcp_util import all_tools, client, texts
from raw_mcp import ACCEPT, RawSession, sse_events

pytestmark = pytest.mark.anyio

SLOW_MS = 5000
TOLD_WITHIN_S = 3.0
FIXTURE_LOG_ENV = {"AGENTMUX_FIXTURE_LOG": "debug,rmcp=warn"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CANCELLED = re.compile(r"slow call cancelled.*?elapsed\W*(\d+)")
LIST_CHANGED = "notifications/tools/list_changed"


class Hub2:
    """A hub with the fixture over stdio (`st`) and over HTTP (`web`), both logging at debug."""

    def __init__(self, hub: harness.Hub, web: harness.FixtureServer) -> None:
        self.hub = hub
        self.web = web

    def log_of(self, upstream: str) -> Path:
        return self.hub.proc.stderr_path if upstream == "st" else self.web.proc.stderr_path

    def cancellations(self, upstream: str) -> list[int]:
        """`elapsed` of every cancelled slow call the upstream logged so far."""
        text = ANSI.sub("", self.log_of(upstream).read_text(errors="replace"))
        return [int(m.group(1)) for m in CANCELLED.finditer(text)]

    def wait_cancelled(self, upstream: str, before: int, timeout: float = TOLD_WITHIN_S) -> int:
        deadline = time.monotonic() + timeout
        while True:
            found = self.cancellations(upstream)
            if len(found) > before:
                return found[-1]
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"upstream `{upstream}` logged no cancelled slow call within {timeout}s\n"
                    f"{self.log_of(upstream).read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.05)


@pytest.fixture(scope="module")
def hub2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub2]:
    logs = tmp_path_factory.mktemp("cancel")
    web = harness.start_fixture_http(logs, "fixture-web", env=FIXTURE_LOG_ENV)
    hub = None
    try:
        st = harness.fixture_stdio_spec()
        st["mcp"]["env"] = dict(FIXTURE_LOG_ENV)
        hub = harness.start_hub(logs / "hub", {"st": st, "web": harness.http_spec(web.url)}, name="agentmux-cancel")
        yield Hub2(hub, web)
    finally:
        if hub is not None:
            hub.stop()
        web.proc.stop()


# === cancellation ===


# The hub speaks 2026-07-28 to the HTTP fixture (it answers server/discover), 2025-11-25 to
# the stdio one; the SDK client in `auto` mode speaks 2026-07-28 to the hub, where abandoning a
# call means closing its POST, and in `legacy` mode sends notifications/cancelled.


@pytest.mark.parametrize(
    ("mode", "upstream"),
    [
        ("legacy", "st"),
        ("legacy", "web"),
        ("auto", "st"),
        ("auto", "web"),
    ],
)
async def test_client_cancellation_reaches_upstream(hub2: Hub2, mode: str, upstream: str) -> None:
    before = len(hub2.cancellations(upstream))
    running = anyio.Event()
    outcome: list[Any] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        running.set()

    async with client(hub2.hub.url("/mcp"), mode) as c:
        scope = anyio.CancelScope()

        async def call() -> None:
            with scope:
                outcome.append(
                    await c.call_tool(f"{upstream}__slow", {"ms": SLOW_MS}, progress_callback=on_progress)
                )

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            with anyio.fail_after(10):
                await running.wait()  # the call runs in the upstream
            scope.cancel()
        assert not outcome, f"the cancelled call returned: {outcome}"

        elapsed = await anyio.to_thread.run_sync(hub2.wait_cancelled, upstream, before)
        assert elapsed < SLOW_MS, elapsed
        assert time.monotonic() - started < SLOW_MS / 1000, "cancellation took as long as the call"

        # The session is still good.
        assert texts(await c.call_tool(f"{upstream}__echo", {"text": "after cancel"})) == ["after cancel"]
        quick = await c.call_tool(f"{upstream}__slow", {"ms": 10})
        assert texts(quick) == ["slept 10 ms"]


class SlowPost:
    """POST tools/call `slow` with a progress token on a thread, keeping the SSE stream open."""

    def __init__(self, session: RawSession, request_id: int, tool: str, ms: int) -> None:
        self.request_id = request_id
        self.running = threading.Event()
        self.events: list[dict[str, Any]] = []
        self.error: str | None = None
        self._http = httpx.Client(timeout=httpx.Timeout(10.0, read=ms / 1000 + 10))
        body = {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": tool, "arguments": {"ms": ms}, "_meta": {"progressToken": f"p{request_id}"}},
        }
        headers = {**session.headers(), "Accept": ACCEPT}
        self._cm = self._http.stream("POST", session.url, content=json.dumps(body).encode(), headers=headers)
        self.response = self._cm.__enter__()
        assert self.response.status_code == 200, self.response.read()
        self._thread = threading.Thread(target=self._read, daemon=True, name=f"slow-post-{request_id}")
        self._thread.start()

    def _read(self) -> None:
        try:
            for message in sse_events(self.response.iter_lines()):
                self.events.append(message)
                if message.get("method") == "notifications/progress":
                    self.running.set()
                if message.get("id") == self.request_id:
                    break
        except Exception as e:  # noqa: BLE001 - the stream is closed under the reader on purpose
            self.error = repr(e)
        finally:
            self.running.set()

    def answers(self) -> list[dict[str, Any]]:
        return [m for m in self.events if m.get("id") == self.request_id]

    def close(self) -> None:
        """Hang up: shut the socket down under the reader (which ends it), then clean up."""
        stream = self.response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        assert not self._thread.is_alive(), "the POST reader did not stop"
        try:
            self._cm.__exit__(None, None, None)
        except Exception:  # noqa: BLE001
            pass
        self._http.close()


@pytest.mark.parametrize(
    "upstream",
    ["st", "web"],
)
def test_notifications_cancelled_is_forwarded(hub2: Hub2, upstream: str) -> None:
    """A raw `notifications/cancelled` for the client's request id reaches the upstream, which
    knows the call by another id: the hub translates it. The POST stays open meanwhile, so
    only the notification can have told the upstream."""
    before = len(hub2.cancellations(upstream))
    with RawSession(hub2.hub.url("/mcp")) as s:
        post = SlowPost(s, 77, f"{upstream}__slow", SLOW_MS)
        try:
            assert post.running.wait(10) and post.error is None, (post.error, post.events)
            s.notify("notifications/cancelled", {"requestId": 77, "reason": "e2e: changed my mind"})
            elapsed = hub2.wait_cancelled(upstream, before)
            assert elapsed < SLOW_MS, elapsed
            # No result for a cancelled request (the receiver should not send one).
            assert not [m for m in post.answers() if "result" in m], post.answers()

            # Same session, next request.
            result = s.request("tools/call", {"name": f"{upstream}__echo", "arguments": {"text": "still here"}})
            assert result["content"] == [{"type": "text", "text": "still here"}]
        finally:
            post.close()


@pytest.mark.parametrize("upstream", ["st", "web"])
def test_client_disconnect_cancels_upstream_call(hub2: Hub2, upstream: str) -> None:
    """A client that drops the POST of a running call, without a word: the upstream is told."""
    before = len(hub2.cancellations(upstream))
    with RawSession(hub2.hub.url("/mcp")) as s:
        body = {
            "jsonrpc": "2.0",
            "id": 5,
            "method": "tools/call",
            "params": {"name": f"{upstream}__slow", "arguments": {"ms": SLOW_MS}, "_meta": {"progressToken": "gone"}},
        }
        with httpx.Client(timeout=10) as http:
            headers = {**s.headers(), "Accept": ACCEPT}
            with http.stream("POST", s.url, content=json.dumps(body).encode(), headers=headers) as r:
                for message in sse_events(r.iter_lines()):
                    if message.get("method") == "notifications/progress":
                        break  # running: now hang up
        elapsed = hub2.wait_cancelled(upstream, before)
        assert elapsed < SLOW_MS, elapsed
        result = s.request("tools/call", {"name": f"{upstream}__echo", "arguments": {"text": "next"}})
        assert result["content"] == [{"type": "text", "text": "next"}]


# === list_changed, from the Python upstream ===


@pytest.fixture(scope="module", params=["dual", "legacy"])
def py_hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Hub]:
    """The Python upstream in both kinds: `dual` (both eras: the hub may speak 2026-07-28 to it,
    where changes come on a `subscriptions/listen` stream) and `legacy` (stateful era only:
    changes come on the upstream session's GET stream)."""
    logs = tmp_path_factory.mktemp(f"list-changed-{request.param}")
    server = harness.start_py_server(logs, "py-server-lc", legacy_only=request.param == "legacy")
    hub = None
    try:
        hub = harness.start_hub(
            logs / "hub", {"py": harness.http_spec(server.url), "fixture": harness.fixture_stdio_spec()}, name="agentmux-lc"
        )
        yield hub
    finally:
        if hub is not None:
            hub.stop()
        server.proc.stop()


LIST_CHANGED_WITHIN_S = 5.0


def test_list_changed_reaches_get_streams(request: pytest.FixtureRequest, py_hub: harness.Hub) -> None:
    with RawSession(py_hub.url("/mcp")) as fed, RawSession(py_hub.url("/mcp/py")) as single:
        assert fed.initialize_result["capabilities"]["tools"].get("listChanged") is True, fed.initialize_result
        fed_stream = fed.open_get_stream()
        single_stream = single.open_get_stream()
        try:
            names = [t["name"] for t in fed.list_all("tools/list", "tools")]
            assert "py__extra_raw" not in names, names

            added = fed.request("tools/call", {"name": "py__add_tool", "arguments": {"suffix": "raw"}})
            assert added["content"][0]["text"] == "added extra_raw", added

            fed_stream.wait_for(LIST_CHANGED, timeout=LIST_CHANGED_WITHIN_S)
            single_stream.wait_for(LIST_CHANGED, timeout=LIST_CHANGED_WITHIN_S)

            # By the time clients are told, the new tool is listed and callable.
            names = [t["name"] for t in fed.list_all("tools/list", "tools")]
            assert "py__extra_raw" in names, names
            assert "fixture__echo" in names, names
            called = fed.request("tools/call", {"name": "py__extra_raw", "arguments": {}})
            assert called["content"][0]["text"] == "extra_raw works", called
            single_names = [t["name"] for t in single.list_all("tools/list", "tools")]
            assert "extra_raw" in single_names, single_names
        finally:
            fed_stream.close()
            single_stream.close()


async def test_list_changed_reaches_sdk_client(request: pytest.FixtureRequest, py_hub: harness.Hub) -> None:
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with client(py_hub.url("/mcp"), "legacy", message_handler=on_message) as c:
        assert "py__extra_sdk" not in [t.name for t in await all_tools(c)]
        await c.call_tool("py__add_tool", {"suffix": "sdk"})
        with anyio.fail_after(LIST_CHANGED_WITHIN_S):
            await changed.wait()
        assert "py__extra_sdk" in [t.name for t in await all_tools(c)]
        assert texts(await c.call_tool("py__extra_sdk", {})) == ["extra_sdk works"]


# === 2026-07-28 clients: subscriptions/listen ===

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}


def modern_post(url: str, method: str, params: dict[str, Any], name: str | None = None) -> httpx.Response:
    headers = {"Accept": ACCEPT, "Content-Type": "application/json", "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method}
    if name is not None:
        headers["Mcp-Name"] = name
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": {**params, "_meta": MODERN_META}}
    return httpx.post(url, headers=headers, json=body, timeout=10)


def test_stateless_listen_stream_gets_tagged_list_changes(py_hub: harness.Hub) -> None:
    """A stateless client's `subscriptions/listen` stream is acknowledged first (with the subset
    agentmux honours), then carries only the list changes it asked for, each tagged with the
    listen request's id."""
    url = py_hub.url("/mcp")
    discovered = modern_post(url, "server/discover", {}).json()["result"]
    assert discovered["capabilities"]["tools"].get("listChanged") is True, discovered

    headers = {"Accept": ACCEPT, "Content-Type": "application/json", "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "subscriptions/listen"}
    body = {
        "jsonrpc": "2.0",
        "id": "listen-1",
        "method": "subscriptions/listen",
        "params": {"_meta": MODERN_META, "notifications": {"toolsListChanged": True, "resourceSubscriptions": ["x://y"]}},
    }
    got: list[dict[str, Any]] = []
    arrived = threading.Event()
    with httpx.Client(timeout=httpx.Timeout(10.0, read=None)) as http, http.stream("POST", url, headers=headers, json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream"), r.headers

        def read() -> None:
            try:
                for message in sse_events(r.iter_lines()):
                    got.append(message)
                    if message.get("method") == "notifications/tools/list_changed":
                        arrived.set()
                        return
            except httpx.HTTPError:
                pass

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        added = modern_post(url, "tools/call", {"name": "py__add_tool", "arguments": {"suffix": "listen"}}, name="py__add_tool")
        assert added.json()["result"]["content"][0]["text"] == "added extra_listen", added.text
        assert arrived.wait(LIST_CHANGED_WITHIN_S), f"no tools/list_changed on the listen stream (saw {got})"

    ack = got[0]
    assert ack["method"] == "notifications/subscriptions/acknowledged", got
    assert ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "listen-1", ack
    # Resource subscriptions are not offered, so they are not acknowledged.
    assert ack["params"]["notifications"] == {"toolsListChanged": True}, ack
    changed = got[-1]
    assert changed["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "listen-1", changed
    assert all(m.get("method") != "notifications/message" for m in got), got
    names = [t["name"] for t in modern_post(url, "tools/list", {}).json()["result"]["tools"]]
    assert "py__extra_listen" in names, names
