"""Bounded work: past `server.max_concurrent_requests` a request is shed at once with 503 and
`Retry-After`, and a legacy `/sse` session may have at most 64 requests in flight (429 beyond).
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator

import harness
import httpx
import pytest
from raw_mcp import ACCEPT, VERSION, RawSession


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.FixtureServer]:
    # Over HTTP, so the test can ask it how many calls reached it without going through agentmux.
    server = harness.start_fixture_http(tmp_path_factory.mktemp("shed-fixture"), "fixture-shed")
    yield server
    server.proc.stop()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, upstream: harness.FixtureServer) -> Iterator[harness.Hub]:
    dir = tmp_path_factory.mktemp("shed-hub")
    settings = {"server": {"max_concurrent_requests": 2}}
    hub = harness.start_hub(dir, {"fixture": harness.http_spec(upstream.url)}, name="agentmux-shed", settings=settings)
    yield hub
    hub.stop()


class CallsReceived:
    """Asks the fixture directly (agentmux's slots may all be taken) how many `tools/call`
    requests it has received, its own questions left out."""

    def __init__(self, upstream: harness.FixtureServer) -> None:
        self.session = RawSession(upstream.url)
        self.asked = 0

    def __call__(self) -> int:
        self.asked += 1
        result = self.session.request("tools/call", {"name": "count_calls", "arguments": {}})
        return result["structuredContent"]["count"] - self.asked


def test_requests_past_the_limit_are_shed_not_queued(hub: harness.Hub, upstream: harness.FixtureServer) -> None:
    received = CallsReceived(upstream)
    with RawSession(hub.url("/mcp")) as s:
        slow = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "fixture__slow", "arguments": {"ms": 1500}}}
        before = received()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            busy = [pool.submit(s.post, {**slow, "id": i}) for i in (1, 2)]
            # Both calls are at the upstream: agentmux is handling two requests, its limit.
            harness.wait_until(lambda: received() >= before + 2, 10, "both slow calls to reach the upstream")
            started = time.monotonic()
            r = httpx.post(hub.url("/mcp"), json={"jsonrpc": "2.0", "id": 3, "method": "ping"}, headers=s.headers(), timeout=10)
            assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
            assert time.monotonic() - started < 0.5, "a shed request must not wait"
            assert all(f.result().status_code == 200 for f in busy)
        assert s.request("ping") == {}
    received.session.close()
    metrics = httpx.get(hub.url("/metrics"), timeout=10).text
    assert "agentmux_requests_shed_total 1" in metrics, metrics


def test_a_legacy_session_has_bounded_requests_in_flight(hub: harness.Hub) -> None:
    with httpx.Client(timeout=httpx.Timeout(10.0, read=None)) as client, client.stream("GET", hub.url("/sse")) as stream:
        endpoint = None
        # Kept referenced: a dropped line iterator closes the stream (and with it the session).
        lines = stream.iter_lines()
        for line in lines:
            if line.startswith("data:"):
                endpoint = line[5:].strip()
                break
        assert endpoint, "no endpoint event"
        url = hub.url(endpoint)
        headers = {"Content-Type": "application/json"}
        init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
        r = client.post(url, json=init, headers=headers)
        assert r.status_code == 202, r.text
        statuses = []
        # Only two at a time get past the shedding limit, so post in pairs, quickly.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            bodies = [{"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "fixture__slow", "arguments": {"ms": 3000}}} for i in range(1, 71)]
            for r in pool.map(lambda b: client.post(url, json=b, headers=headers), bodies):
                statuses.append(r.status_code)
    assert statuses.count(202) == 64 and statuses.count(429) == 6, statuses
