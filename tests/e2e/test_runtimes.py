"""`server.runtime`: each layout serves, with the threads it promises.

`per-core` (the default) runs one single-threaded runtime per thread, each accepting on its own
socket; a session is not tied to a thread, so a session opened on one connection is used here
from many others, which the kernel spreads over the threads.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import harness
import httpx
import pytest
from raw_mcp import ACCEPT, VERSION, RawSession, messages

CONNECTIONS = 24


def thread_names(pid: int) -> list[str]:
    return [(task / "comm").read_text().strip() for task in Path(f"/proc/{pid}/task").iterdir()]


@pytest.mark.parametrize(
    ("server", "expect"),
    [
        # The default: per-core, with as many threads as agentmux may use cores here.
        ({}, set()),
        ({"runtime": "per-core", "worker_threads": 3}, {"agentmux-core-1", "agentmux-core-2"}),
        ({"runtime": "multi-thread", "worker_threads": 2}, {"tokio-rt-worker"}),
        ({"runtime": "current-thread"}, set()),
    ],
)
def test_each_runtime_serves_one_session_from_many_connections(
    tmp_path: Path, server: dict[str, object], expect: set[str]
) -> None:
    hub = harness.start_hub(
        tmp_path, {"fixture": harness.fixture_stdio_spec()}, settings={"server": server} if server else None
    )
    try:
        names = set(thread_names(hub.proc.pid))
        assert expect <= names, f"{server}: threads {sorted(names)}"
        if server.get("runtime") != "multi-thread":
            assert "tokio-rt-worker" not in names, sorted(names)
        if server.get("runtime") == "current-thread":
            assert not any(n.startswith("agentmux-core") for n in names), sorted(names)
        if server.get("runtime") == "per-core":
            assert "agentmux-core-3" not in names, "worker_threads: 3 means this thread and two more"
        session = RawSession(hub.url("/mcp"))
        headers = {**session.headers(), "Content-Type": "application/json", "Accept": ACCEPT}
        assert headers["MCP-Protocol-Version"] == VERSION
        for i in range(CONNECTIONS):
            # A new client each time: a new connection, which may land on any thread.
            with httpx.Client(timeout=10) as http:
                body = {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "fixture__echo", "arguments": {"text": f"call {i}"}}}
                r = http.post(hub.url("/mcp"), content=json.dumps(body).encode(), headers=headers)
                assert r.status_code == 200, r.text
                [answer] = [m for m in messages(r) if m.get("id") == i]
                assert f"call {i}" in json.dumps(answer["result"]), answer
    finally:
        hub.stop()


def test_a_second_agentmux_on_the_same_port_is_refused(tmp_path: Path) -> None:
    """The per-core sockets share their port with `SO_REUSEPORT`, which would let a second
    process of the same user join and take half the connections; agentmux refuses to start."""
    first = harness.start_hub(tmp_path / "first", {"fixture": harness.fixture_stdio_spec()})
    try:
        config = harness.write_hub_config(tmp_path / "second", {"fixture": harness.fixture_stdio_spec()}, port=first.port)
        second = subprocess.run(
            [harness.AGENTMUX_BIN, "serve", "--config", config], capture_output=True, text=True, timeout=30
        )
        assert second.returncode != 0, second.stderr
        assert f"cannot listen on 127.0.0.1:{first.port}" in second.stderr, second.stderr
        # The first one still answers every connection.
        for _ in range(8):
            assert httpx.get(first.url("/healthz"), timeout=5).status_code == 200
    finally:
        first.stop()
