"""Logs reach only who may see them. An upstream's `notifications/message` that is not tied to
one request (a stdio upstream has one stream for every caller) goes only to sessions that asked
for logs (`logging/setLevel`) and whose caller may use something of that upstream; logs that
belong to a request (an HTTP upstream's response stream) go only to that request.
"""

from __future__ import annotations

import queue
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
# Bounds the wait for logs that must arrive; generous, as the wait ends when they do.
LOGS_WITHIN_S = 10.0


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, keys: Keys, upstream: harness.FixtureServer) -> Iterator[harness.Hub]:
    upstreams = {"local": harness.fixture_stdio_spec(), "web": harness.http_spec(upstream.url)}
    hub = start_policy_hub(tmp_path_factory.mktemp("scope-hub"), keys, {"eng.cedar": POLICIES}, upstreams, "agentmux-scope")
    yield hub
    hub.stop()


def session(hub: harness.Hub, keys: Keys, sub: str, groups: list[str]) -> AuthSession:
    return AuthSession(hub.url("/mcp"), bearer(keys.token(sub=sub, groups=groups)))


def logs_now(stream: GetStream) -> list[dict[str, Any]]:
    """The log messages the stream has received so far (others are dropped)."""
    got: list[dict[str, Any]] = []
    while True:
        try:
            message = stream.queue.get_nowait()
        except queue.Empty:
            return got
        if message.get("method") == LOG:
            got.append(message)


def logs_until(stream: GetStream, count: int, who: str) -> list[dict[str, Any]]:
    """Log messages until `count` have arrived."""
    got: list[dict[str, Any]] = []

    def enough() -> bool:
        got.extend(logs_now(stream))
        return len(got) >= count

    harness.wait_until(enough, LOGS_WITHIN_S, lambda: f"{count} log messages on {who}'s GET stream (got {got})")
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
            # Carol asks for logs only now, and makes the upstream log again: a later batch, which
            # reaches her and alice. Once both have it, anything the hub sent any session for the
            # earlier calls was on the wire before it, so what is missing now never came.
            carol.request("logging/setLevel", {"level": "info"})
            carol.request("tools/call", {"name": "local__test_tool_with_logging", "arguments": {}})
            got = {"alice": logs_until(streams["alice"], 6, "alice"), "carol": logs_until(streams["carol"], 3, "carol")}
            got = {name: got.get(name, []) + logs_now(stream) for name, stream in streams.items()}
        finally:
            for stream in streams.values():
                stream.close()
    batch = ["Tool execution started", "Tool processing data", "Tool execution completed"]
    assert [m["params"]["data"] for m in got["alice"]] == batch * 2, got["alice"]
    assert all(m["params"]["logger"] == "local/agentmux-fixture" for m in got["alice"] + got["carol"]), got
    assert got["mallory"] == [], "a caller with no permits saw another caller's logs"
    assert [m["params"]["data"] for m in got["carol"]] == batch, "a session got upstream-wide logs from before it set a log level"
