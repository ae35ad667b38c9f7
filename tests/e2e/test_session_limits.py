"""A caller cannot take sessions from others: 10,000 `initialize` from one API key are slowed
down (429 with `Retry-After`) and evict only that key's own least recently used sessions;
another key's sessions keep working throughout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import harness
import httpx
import pytest
from raw_mcp import ACCEPT, VERSION
from test_auth import AuthSession, new_api_key

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "flood", "version": "0"}},
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[harness.Hub, str, str]]:
    dir: Path = tmp_path_factory.mktemp("limits-hub")
    flood_key, flood_hash = new_api_key(dir)
    calm_key, calm_hash = new_api_key(dir)
    settings = {
        "auth": {
            "api_keys": [
                {"name": "flood", "hash": flood_hash, "groups": []},
                {"name": "calm", "hash": calm_hash, "groups": []},
            ]
        },
        "mcp": {"max_sessions_per_caller": 50, "sessions_per_second": 100},
    }
    hub = harness.start_hub(dir, {"fixture": harness.fixture_stdio_spec()}, name="agentmux-limits", settings=settings)
    yield hub, flood_key, calm_key
    hub.stop()


def test_a_flood_of_initialize_leaves_other_callers_sessions_intact(setup: tuple[harness.Hub, str, str]) -> None:
    hub, flood_key, calm_key = setup
    calm = [AuthSession(hub.url("/mcp"), {"X-API-Key": calm_key}) for _ in range(5)]
    headers = {"Content-Type": "application/json", "Accept": ACCEPT, "MCP-Protocol-Version": VERSION, "X-API-Key": flood_key}
    statuses: dict[int, int] = {}
    flood_sessions: list[str] = []
    started = time.monotonic()
    with httpx.Client(timeout=10) as client:
        for i in range(10_000):
            r = client.post(hub.url("/mcp"), json=INITIALIZE, headers=headers)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code == 429:
                assert int(r.headers["retry-after"]) >= 1, r.headers
            elif r.status_code == 200:
                flood_sessions.append(r.headers["mcp-session-id"])
            if i % 2000 == 0:
                # The other caller's sessions work all along.
                for s in calm:
                    assert s.request("tools/list")["tools"], "a calm session was lost"
    took = time.monotonic() - started
    print(f"\n10,000 initialize in {took:.1f} s: {statuses}")
    assert statuses.get(429, 0) > 5_000, statuses
    assert set(statuses) <= {200, 429}, statuses
    # The flood kept at most its cap: its oldest sessions are gone, its newest work.
    with httpx.Client(timeout=10) as client:
        def alive(session_id: str) -> bool:
            body = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
            r = client.post(hub.url("/mcp"), json=body, headers={**headers, "Mcp-Session-Id": session_id})
            return r.status_code == 200
        assert not alive(flood_sessions[0])
        assert alive(flood_sessions[-1])
    for s in calm:
        assert s.request("tools/list")["tools"]
        s.close()
