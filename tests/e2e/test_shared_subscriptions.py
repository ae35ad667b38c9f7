"""Resource subscriptions are per session, while the upstream connection is shared by every
session. One session's unsubscribe, or its end, must not silence another session's updates:
agentmux unsubscribes upstream only when no session holds the subscription any more.

The upstream is server-everything over stdio (one connection for the whole hub); once its
`toggle-subscriber-updates` tool has run it sends `notifications/resources/updated` for every
subscribed resource every 5 s, and it logs each `resources/(un)subscribe` it receives, which a
watching session reads to see what reached the upstream.
"""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from typing import Any

import harness
import pytest
from raw_mcp import GetStream, RawSession

DOC = "demo://resource/static/document/architecture.md"
URI = f"agentmux://everything/{DOC}"
UPDATED = "notifications/resources/updated"
# server-everything's log line for an unsubscribe it received.
UNSUBSCRIBED = f"Received Unsubscribe Resource request: {DOC}"
# Updates come every 5 s: a wait for one is bounded well past that.
UPDATE_WITHIN_S = 15.0


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Hub]:
    """A hub of its own: the simulated updates are switched on for its upstream for good."""
    hub = harness.start_hub(
        tmp_path_factory.mktemp("shared-subscriptions"), {"everything": harness.everything_spec()}, name="agentmux-subs"
    )
    try:
        with RawSession(hub.url("/mcp")) as s:
            toggled = s.request("tools/call", {"name": "everything__toggle-subscriber-updates", "arguments": {}})
            assert "Started" in json.dumps(toggled), toggled
        yield hub
    finally:
        hub.stop()


class Watcher:
    """A session that asked for the upstream's logs: they say what reached the upstream."""

    def __init__(self, hub: harness.Hub) -> None:
        self.session = RawSession(hub.url("/mcp"))
        self.stream = self.session.open_get_stream()
        assert self.session.request("logging/setLevel", {"level": "debug"}) == {}
        self.seen: list[dict[str, Any]] = []

    def _read(self) -> None:
        while True:
            try:
                self.seen.append(self.stream.queue.get_nowait())
            except queue.Empty:
                return

    def unsubscribes(self) -> int:
        self._read()
        return sum(UNSUBSCRIBED in json.dumps(m) for m in self.seen)

    def wait_unsubscribe(self) -> None:
        harness.wait_until(
            lambda: self.unsubscribes() > 0, 10, lambda: f"the upstream to log {UNSUBSCRIBED!r} (saw {self.seen})"
        )

    def close(self) -> None:
        self.stream.close()
        self.session.close()


def fresh_updates(stream: GetStream, count: int) -> None:
    """`count` updates of URI that the upstream sent after this call. What the stream holds
    already is dropped; the first update may still have been on its way, the rest were sent
    later (one per 5 s)."""
    while not stream.queue.empty():
        stream.queue.get_nowait()
    for _ in range(count + 1):
        update = stream.wait_for(UPDATED, timeout=UPDATE_WITHIN_S)
        assert update["params"]["uri"] == URI, update


def end(session: RawSession) -> None:
    """Closes the session with DELETE, as a client that is done does."""
    r = session.http.delete(session.url, headers=session.headers(), timeout=5)
    assert r.status_code == 200, (r.status_code, r.text)
    session.session_id = None


def test_one_sessions_unsubscribe_leaves_anothers_updates(hub: harness.Hub) -> None:
    watcher = Watcher(hub)
    a = RawSession(hub.url("/mcp"))
    b = RawSession(hub.url("/mcp"))
    a_stream = a.open_get_stream()
    try:
        assert a.request("resources/subscribe", {"uri": URI}) == {}
        assert b.request("resources/subscribe", {"uri": URI}) == {}
        fresh_updates(a_stream, 0)

        assert b.request("resources/unsubscribe", {"uri": URI}) == {}
        fresh_updates(a_stream, 1)
        # An unsubscribe forwarded for B would have been logged before those updates were sent.
        assert watcher.unsubscribes() == 0, watcher.seen

        # The last session out unsubscribes the upstream.
        assert a.request("resources/unsubscribe", {"uri": URI}) == {}
        watcher.wait_unsubscribe()
    finally:
        a_stream.close()
        a.close()
        b.close()
        watcher.close()


def test_a_closed_sessions_subscriptions_are_released_alone(hub: harness.Hub) -> None:
    watcher = Watcher(hub)
    a = RawSession(hub.url("/mcp"))
    b = RawSession(hub.url("/mcp"))
    a_stream = a.open_get_stream()
    try:
        assert a.request("resources/subscribe", {"uri": URI}) == {}
        assert b.request("resources/subscribe", {"uri": URI}) == {}
        end(b)
        fresh_updates(a_stream, 1)
        assert watcher.unsubscribes() == 0, watcher.seen

        # The last holder's end releases the upstream subscription.
        end(a)
        watcher.wait_unsubscribe()
    finally:
        a_stream.close()
        a.close()
        b.close()
        watcher.close()
