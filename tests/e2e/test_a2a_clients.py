"""A2A through agentmux with another client, and with agents that break.

The official JS SDK client (@a2a-js/sdk, run by a2a_js_client.mjs on the pinned Node 22) reads
the card agentmux serves and talks to the a2a-sdk fixture agents through it, over both bindings
and both protocol versions it speaks (1.0, and 0.3 through its compat layer).

Then agents that fail in the ways real ones do — one that dies mid-stream, one that answers
garbage, one that never answers — and a client that walks away mid-stream: each call fails
alone, with an error that names the agent, and agentmux goes on serving the others.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import aclosing
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import a2a_util
import anyio
import harness
import httpx
import pytest

# The module fixtures of test_a2a (agents echo/stream/ask/count behind a hub with API keys and
# policies): imported, pytest gives this module its own instances.
from test_a2a import agents, alice, hub, keys  # noqa: F401

pytestmark = pytest.mark.anyio

JS_CLIENT = Path(__file__).parent / "a2a_js_client.mjs"
JS_CLIENT_TIMEOUT_S = 60.0

# (binding, protocol version): everything the JS SDK 1.3.0 client speaks over HTTP (its third
# binding, gRPC, is one agentmux does not serve: the served card drops gRPC interfaces).
JS_DIALECTS = [("JSONRPC", "1.0"), ("JSONRPC", "0.3"), ("HTTP+JSON", "1.0"), ("HTTP+JSON", "0.3")]
# Where each dialect's SendMessage lands on the a2a-sdk agent (its /last-headers `path`).
SEND_PATH = {("JSONRPC", "1.0"): "/", ("JSONRPC", "0.3"): "/", ("HTTP+JSON", "1.0"): "/message:send", ("HTTP+JSON", "0.3"): "/v1/message:send"}


# === the JS SDK client ===


def run_js_client(card_url: str, text: str, *, binding: str, version: str, stream: bool = False, headers: dict[str, str] | None = None) -> tuple[int, list[dict[str, Any]], str]:
    """Runs a2a_js_client.mjs; returns its exit code, its JSON lines and its stderr."""
    tools = harness.tools()
    missing = [k for k in ("A2A_JS_SDK_JS", "A2A_JS_CLIENT_JS") if not Path(tools.get(k, "")).is_file()]
    if missing:
        raise harness.HarnessError(f"{', '.join(missing)} missing from .tools/paths.json: rerun scripts/install-test-deps.sh")
    argv = [tools["NODE22"], str(JS_CLIENT), card_url, text, "--binding", binding]
    argv += ["--v03"] if version == "0.3" else []
    argv += ["--stream"] if stream else []
    for name, value in (headers or {}).items():
        argv += ["--header", f"{name}: {value}"]
    env = {"A2A_JS_SDK_JS": tools["A2A_JS_SDK_JS"], "A2A_JS_CLIENT_JS": tools["A2A_JS_CLIENT_JS"], "PATH": tools["NODE22_BIN_DIR"]}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=JS_CLIENT_TIMEOUT_S, env=env)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, lines, done.stderr


def dialect_id(dialect: tuple[str, str]) -> str:
    return f"{dialect[0]}-v{dialect[1]}"


@pytest.mark.parametrize("dialect", JS_DIALECTS, ids=dialect_id)
async def test_js_sdk_sends_through_agentmux(
    hub: harness.Hub, agents: dict[str, a2a_util.Agent], keys: dict[str, tuple[str, str]], dialect: tuple[str, str]  # noqa: F811
) -> None:
    binding, version = dialect
    card_url = hub.url("/a2a/echo/.well-known/agent-card.json")
    code, lines, stderr = run_js_client(card_url, "hello from js", binding=binding, version=version, headers=alice(keys))
    assert code == 0, (lines, stderr)
    assert lines[0]["client"] == {"binding": binding, "version": version, "agent": "echo"}, lines
    assert len(lines) == 2, lines
    message = lines[1]["response"]["message"]
    assert message["role"] == "ROLE_AGENT" and message["parts"] == [{"text": "echo: hello from js"}], lines

    # It reached the agent over the binding and version the SDK chose, without the caller's key.
    seen = httpx.get(agents["echo"].url + "/last-headers").json()
    assert seen["path"] == SEND_PATH[dialect], seen
    assert (seen["A2A-Version"] == "1.0") == (version == "1.0"), seen
    assert not seen["Authorization"], f"the caller's key must not reach the agent: {seen}"


@pytest.mark.parametrize("dialect", JS_DIALECTS, ids=dialect_id)
async def test_js_sdk_streams_through_agentmux(
    hub: harness.Hub, keys: dict[str, tuple[str, str]], dialect: tuple[str, str]  # noqa: F811
) -> None:
    binding, version = dialect
    card_url = hub.url("/a2a/stream/.well-known/agent-card.json")
    code, lines, stderr = run_js_client(card_url, "go", binding=binding, version=version, stream=True, headers=alice(keys))
    assert code == 0, (lines, stderr)
    assert lines[0]["client"] == {"binding": binding, "version": version, "agent": "stream"}, lines
    events = [line["event"] for line in lines[1:]]
    task = events[0]["task"]
    assert task["status"]["state"] == "TASK_STATE_SUBMITTED", events[0]
    assert a2a_util.final_state(events) == "TASK_STATE_COMPLETED", events
    assert "statusUpdate" in events[-1], events[-1]
    chunks = [p["text"] for e in events if "artifactUpdate" in e for p in e["artifactUpdate"]["artifact"]["parts"]]
    assert chunks == ["chunk 1", "chunk 2", "chunk 3"], events
    steps = [p["text"] for e in events if "statusUpdate" in e for p in (e["statusUpdate"]["status"].get("message") or {}).get("parts", [])]
    assert steps == ["step 1", "step 2", "step 3"], events
    ids = {(e.get("statusUpdate") or e.get("artifactUpdate") or {}).get("taskId", task["id"]) for e in events}
    assert ids == {task["id"]}, "every event is about the one task"


async def test_js_sdk_without_the_api_key_is_refused(hub: harness.Hub) -> None:  # noqa: F811
    card_url = hub.url("/a2a/echo/.well-known/agent-card.json")
    code, lines, stderr = run_js_client(card_url, "hi", binding="JSONRPC", version="1.0")
    assert code == 1, (lines, stderr)
    assert "401" in lines[-1]["error"], lines


# === agents that break ===


class StubAgent:
    """A fake agent on a loopback port: a valid v1.0 card (JSON-RPC at its own URL) and a POST
    handler that misbehaves. `garbage` answers every POST with 200 `not json at all`; `silent`
    never answers (until `close`)."""

    def __init__(self, name: str, behaviour: str) -> None:
        assert behaviour in ("garbage", "silent"), behaviour
        self.name, self.behaviour = name, behaviour
        self.posts = 0
        self._release = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path != a2a_util.CARD_PATH:
                    self.send_error(404)
                    return
                self._reply(200, "application/json", json.dumps(stub.card()).encode())

            def do_POST(self) -> None:  # noqa: N802
                stub.posts += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if stub.behaviour == "silent":
                    stub._release.wait()
                    return
                self._reply(200, "application/json", b"not json at all")

            def _reply(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"stub-{name}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def card(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": f"a stub agent that is {self.behaviour}",
            "version": "1.0.0",
            "supportedInterfaces": [{"url": self.url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}],
            "capabilities": {"streaming": True},
            "defaultInputModes": ["text/plain"],
            "defaultOutputModes": ["text/plain"],
            "skills": [{"id": self.behaviour, "name": self.behaviour, "description": f"is {self.behaviour}", "tags": ["test"]}],
        }

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Troubled:
    """A hub without auth or policies (everyone is Anonymous, everything allowed) in front of
    agents that break: `dying` and `slow` (slow-mode fixture agents, long enough never to finish
    during a test), `garbage` and `silent` (StubAgent), and a healthy `echo`."""

    hub: harness.Hub
    echo: a2a_util.Agent
    dying: a2a_util.Agent
    slow: a2a_util.Agent
    garbage: StubAgent
    silent: StubAgent


# 200 steps of 0.2 s: a stream nobody closes outlives every wait below.
LONG_SLOW = ["--delay", "0.2", "--steps", "200"]
SILENT_FIRST_BYTE_S = 1.0


@pytest.fixture(scope="module")
def troubled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Troubled]:
    logs = tmp_path_factory.mktemp("a2a-troubled-agents")
    started: list[a2a_util.Agent] = []
    stubs: list[StubAgent] = []
    hub = None
    try:
        for name, mode, extra in [("echo", "echo", []), ("dying", "slow", LONG_SLOW), ("slow", "slow", LONG_SLOW)]:
            started.append(a2a_util.start_agent(mode, name=name, log_dir=logs, extra_args=extra))
        stubs += [StubAgent("garbage", "garbage"), StubAgent("silent", "silent")]
        echo, dying, slow = started
        garbage, silent = stubs
        registry: dict[str, Any] = {
            "echo": {"a2a": {"url": echo.url}},
            "dying": {"a2a": {"url": dying.url}},
            "slow": {"a2a": {"url": slow.url}},
            "garbage": {"a2a": {"url": garbage.url}},
            "silent": {"a2a": {"url": silent.url}, "timeouts": {"first_byte": f"{SILENT_FIRST_BYTE_S:g}s"}},
        }
        hub = harness.start_hub(tmp_path_factory.mktemp("a2a-troubled-hub"), registry, name="agentmux-a2a-troubled")
        yield Troubled(hub, echo, dying, slow, garbage, silent)
    finally:
        if hub is not None:
            hub.stop()
        for agent in started:
            agent.stop()
        for stub in stubs:
            stub.close()


async def assert_still_serving(troubled: Troubled) -> None:
    """agentmux is ready and the healthy agent answers through it."""
    r = httpx.get(troubled.hub.url("/readyz"))
    assert r.status_code == 200, r.text
    answer = await a2a_util.jsonrpc(troubled.hub.url("/a2a/echo"), "SendMessage", a2a_util.text_message_params("still there?"))
    assert answer["result"]["message"]["parts"][0]["text"] == "echo: still there?", answer


def post_rpc(url: str, method: str, request_id: int = 7, timeout: float = a2a_util.READ_TIMEOUT_S) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": a2a_util.text_message_params("hi")}
    return httpx.post(url, json=body, headers={"A2A-Version": "1.0"}, timeout=timeout)


def established_to(port: int) -> int:
    """How many TCP connections on this machine are established to 127.0.0.1:`port` (from
    /proc/net/tcp: the fixture agents listen on IPv4 loopback only)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote, state = fields[2], fields[3]
        if state == "01" and int(remote.split(":")[1], 16) == port:
            count += 1
    return count


async def test_an_agent_that_dies_mid_stream_ends_the_stream_alone(troubled: Troubled) -> None:
    frames: list[dict[str, Any]] = []
    ended_by = "the end of the stream"
    killed_at = 0.0
    stream = a2a_util.jsonrpc_stream(troubled.hub.url("/a2a/dying"), "SendStreamingMessage", a2a_util.text_message_params("work"))
    try:
        # Bounds the whole stream: an agentmux that never ends it fails here, not after 200 steps.
        with anyio.fail_after(30):
            async with aclosing(stream):
                async for _, frame in stream:
                    frames.append(frame)
                    if len(frames) == 1:
                        troubled.dying.proc.kill()
                        killed_at = time.monotonic()
    except httpx.TransportError as e:
        ended_by = f"{type(e).__name__}: {e}"
    ended_after = time.monotonic() - killed_at
    assert killed_at, f"no event before the stream ended ({ended_by})"
    assert ended_after < 5.0, f"the stream ended {ended_after:.1f} s after the agent died ({ended_by})"
    # The agent was killed after its first event; at most what was already in flight follows, and
    # no completed state (it never got that far).
    assert a2a_util.final_state([f.get("result", {}) for f in frames]) != "TASK_STATE_COMPLETED", frames
    await assert_still_serving(troubled)

    # The client learns what happened: a JSON-RPC error naming the agent, as the stream's last
    # event, not a connection cut off halfway through a chunk.
    assert ended_by == "the end of the stream", f"the stream was cut off: {ended_by}; frames {frames}"
    last = frames[-1]
    assert last.get("id") == 1 and last.get("error", {}).get("code") == -32010, f"last event: {last}"
    assert "agent `dying`" in last["error"]["message"], f"the error does not name the agent: {last}"


# A streaming call that gets a plain answer instead of a stream is answered like a plain call.
@pytest.mark.parametrize("method", ["SendMessage", "SendStreamingMessage"])
async def test_an_agent_that_answers_garbage_gets_a_502_naming_it(troubled: Troubled, method: str) -> None:
    before = troubled.garbage.posts
    r = post_rpc(troubled.hub.url("/a2a/garbage"), method, request_id=11)
    assert troubled.garbage.posts == before + 1, "the call reached the agent"
    assert r.status_code == 502, f"HTTP {r.status_code}: {r.text}"
    body = r.json()
    assert body["id"] == 11 and "agent `garbage`" in body["error"]["message"], body

    await assert_still_serving(troubled)


@pytest.mark.parametrize("method", ["SendMessage", "SendStreamingMessage"])
async def test_an_agent_that_never_answers_times_out_naming_it(troubled: Troubled, method: str) -> None:
    before = troubled.silent.posts
    sent = time.monotonic()
    r = post_rpc(troubled.hub.url("/a2a/silent"), method, request_id=12, timeout=10.0)
    took = time.monotonic() - sent
    assert troubled.silent.posts == before + 1, "the call reached the agent"
    assert SILENT_FIRST_BYTE_S <= took < 3.0, f"answered after {took:.2f} s (first_byte is {SILENT_FIRST_BYTE_S:g} s): {r.text}"
    assert r.status_code == 502, f"HTTP {r.status_code}: {r.text}"
    error = r.json()["error"]
    assert "agent `silent`" in error["message"] and "did not answer" in error["message"], error
    assert r.json()["id"] == 12, r.text

    await assert_still_serving(troubled)


async def test_a_client_that_walks_away_mid_stream_closes_the_agent_stream(troubled: Troubled) -> None:
    port = troubled.slow.port
    async with httpx.AsyncClient(timeout=a2a_util.READ_TIMEOUT_S) as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "SendStreamingMessage", "params": a2a_util.text_message_params("work")}
        async with http.stream("POST", troubled.hub.url("/a2a/slow"), json=body, headers={"A2A-Version": "1.0"}) as r:
            assert r.status_code == 200, await r.aread()
            async for line in r.aiter_lines():
                if line.startswith("data:"):
                    first = json.loads(line[5:])
                    break
            assert first["result"]["task"]["status"]["state"] == "TASK_STATE_SUBMITTED", first
            # agentmux holds the agent's stream open while ours is.
            during = established_to(port)
            assert during >= 1, "no connection from agentmux to the agent while streaming"
        # Leaving the block closes our connection mid-stream.

    # The agent would stream for 40 s more; agentmux drops its connection to it instead.
    harness.wait_until(lambda: established_to(port) < during, 5, f"agentmux to close its stream to the slow agent (port {port})")
    await assert_still_serving(troubled)
    # And the agent still takes new streams through agentmux.
    again = a2a_util.jsonrpc_stream(troubled.hub.url("/a2a/slow"), "SendStreamingMessage", a2a_util.text_message_params("again"))
    async with aclosing(again):
        _, frame = await anext(again)
    assert frame["result"]["task"]["status"]["state"] == "TASK_STATE_SUBMITTED", frame
