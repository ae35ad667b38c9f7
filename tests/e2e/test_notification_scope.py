"""Logs reach only who may see them. An upstream's `notifications/message` that is not tied to
one request (a stdio upstream has one stream for every caller) goes only to sessions that asked
for logs (`logging/setLevel`) and whose caller may use something of that upstream; logs that
belong to a request (an HTTP upstream's response stream) go only to that request.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import harness
import pytest
from raw_mcp import GetStream
from test_auth import AuthSession, Keys, bearer, keys, start_policy_hub, upstream  # noqa: F401

POLICIES = """
@id("eng-logging-tool")
permit (principal in Group::"eng", action == Action::"call_tool", resource)
when { resource.name == "test_tool_with_logging" };
"""

LOG = "notifications/message"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, keys: Keys, upstream: harness.FixtureServer) -> Iterator[harness.Hub]:
    upstreams = {"local": harness.fixture_stdio_spec(), "web": harness.http_spec(upstream.url)}
    hub = start_policy_hub(tmp_path_factory.mktemp("scope-hub"), keys, {"eng.cedar": POLICIES}, upstreams, "agentmux-scope")
    yield hub
    hub.stop()


def session(hub: harness.Hub, keys: Keys, sub: str, groups: list[str]) -> AuthSession:
    return AuthSession(hub.url("/mcp"), bearer(keys.token(sub=sub, groups=groups)))


def logs(stream: GetStream, settle: float) -> list[dict[str, Any]]:
    """Every log message the stream got, waiting `settle` seconds for late ones."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + settle
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = stream.queue.get(timeout=left)
        except queue.Empty:
            break
        if message.get("method") == LOG:
            got.append(message)
    return got


def test_upstream_wide_logs_reach_only_entitled_sessions_that_asked(hub: harness.Hub, keys: Keys) -> None:
    with (
        session(hub, keys, "alice", ["eng"]) as alice,
        session(hub, keys, "mallory", ["contractors"]) as mallory,
        session(hub, keys, "carol", ["eng"]) as carol,
    ):
        alice.request("logging/setLevel", {"level": "info"})
        mallory.request("logging/setLevel", {"level": "debug"})
        streams = {name: s.open_get_stream() for name, s in (("alice", alice), ("mallory", mallory), ("carol", carol))}
        try:
            # The stdio upstream's logs are not tied to the call on the wire: upstream-wide.
            result = alice.request("tools/call", {"name": "local__test_tool_with_logging", "arguments": {}})
            assert "executed successfully" in result["content"][0]["text"], result
            # The HTTP upstream's logs travel on alice's own response stream.
            alice.request("tools/call", {"name": "web__test_tool_with_logging", "arguments": {}})
            got = {name: logs(stream, settle=1.5) for name, stream in streams.items()}
        finally:
            for stream in streams.values():
                stream.close()
    texts = [m["params"]["data"] for m in got["alice"]]
    assert texts == ["Tool execution started", "Tool processing data", "Tool execution completed"], got["alice"]
    assert all(m["params"]["logger"] == "local/agentmux-fixture" for m in got["alice"]), got["alice"]
    assert got["mallory"] == [], "a caller with no permits saw another caller's logs"
    assert got["carol"] == [], "a session that never set a log level got upstream-wide logs"
