"""A2A helpers for the end-to-end tests: the fixture agents (fixtures/a2a/agent.py), the official
SDK client (a2a-sdk 1.3.0), and raw JSON-RPC / SSE over httpx for exact wire checks.

The SDK client works on protobuf objects; everything here hands back plain dicts in the
protobuf JSON mapping (camelCase, enums as names: `{"statusUpdate": {"status": {"state":
"TASK_STATE_WORKING"}}}`), which is also the v1.0 wire shape. Version negotiation in 1.3.0:
the SDK client sends `A2A-Version: 1.0` and picks the card's 1.0 interface; a server treats a
request without that header as v0.3, so raw v1.0 calls must send it (`version="1.0"`, the
default here) and raw v0.3 calls (`message/send`, …) must not (`version=None`).
"""

from __future__ import annotations

import json
import re
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import harness
import httpx
from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory
from a2a.helpers import new_data_part, new_text_part
from a2a.types import CancelTaskRequest, GetTaskRequest, ListTasksRequest, Message, Role, SendMessageRequest
from google.protobuf.json_format import MessageToDict

AGENT_PY = harness.REPO / "fixtures" / "a2a" / "agent.py"
AGENT_START_TIMEOUT_S = 30.0
CARD_PATH = "/.well-known/agent-card.json"
JSONRPC = "JSONRPC"
HTTP_JSON = "HTTP+JSON"
# Bounds every request of a test client, so a gateway that never answers fails the test
# instead of hanging it.
READ_TIMEOUT_S = 30.0

_READY = re.compile(r"^ready (\d+)$", re.M)


# === the fixture agents ===


class Agent(NamedTuple):
    """A running fixture agent; unpacks as `(proc, port)`."""

    proc: harness.Proc
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def card_url(self) -> str:
        return self.url + CARD_PATH

    def stop(self) -> None:
        self.proc.stop()


def start_agent(
    mode: str,
    *,
    bindings: Sequence[str] = ("jsonrpc", "rest"),
    extra_args: Sequence[str] = (),
    log_dir: Path | None = None,
    name: str | None = None,
    port: int = 0,
) -> Agent:
    """Runs fixtures/a2a/agent.py in `mode` on a kernel-picked port (or `port`: the port of an
    agent that was stopped, to bring "the same" agent back) and waits for `ready PORT`.
    Stop it with `agent.stop()` (or `harness.Proc.stop`). `extra_args` go to agent.py as they are
    (`--no-v03`, `--delay 0.1`, `--name NAME`, …); logs land in `log_dir` (a temp dir if omitted)."""
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="a2a-agent-"))
    argv = [sys.executable, AGENT_PY, "--port", str(port), "--mode", mode, "--bindings", ",".join(bindings)]
    argv += [*(["--name", name] if name else []), *extra_args]
    proc = harness.spawn(name or f"a2a-{mode}", argv, log_dir)
    try:
        port = int(harness.address_in_log(proc, _READY, AGENT_START_TIMEOUT_S, stream="stdout"))
    except BaseException:
        proc.stop()
        raise
    return Agent(proc, port)


def start_agents(specs: Mapping[str, tuple[str, Mapping[str, Any]]], log_dir: Path) -> dict[str, Agent]:
    """Starts several agents at once (each Python agent spends a second importing the SDK):
    `{name: (mode, start_agent keyword arguments)}`, each named `name`. If one fails to start,
    the others are stopped and the failure raised."""
    with ThreadPoolExecutor(max_workers=len(specs) or 1) as pool:
        futures = {
            name: pool.submit(start_agent, mode, name=name, log_dir=log_dir, **dict(kwargs)) for name, (mode, kwargs) in specs.items()
        }
    started = {name: f.result() for name, f in futures.items() if f.exception() is None}
    failed = [f.exception() for f in futures.values() if f.exception() is not None]
    if failed:
        for agent in started.values():
            agent.stop()
        raise failed[0]  # type: ignore[misc]
    return started


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (bound, read, released): for an agent that is to come
    up later at an address agentmux already knows."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class PushReceiver:
    """Where an agent sends push notifications: an HTTP server on a loopback address (any of
    127.0.0.0/8) that answers every POST 200 and records it as `{"path", "headers", "body"}`
    (the body parsed as JSON when it is)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.posts: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                with receiver._lock:
                    receiver.posts.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"push-receiver-{host}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def received(self, path: str) -> list[dict[str, Any]]:
        """The POSTs to `path` so far."""
        with self._lock:
            return [p for p in self.posts if p["path"] == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def card_url(base_url: str) -> str:
    return base_url.rstrip("/") + CARD_PATH


# === the SDK client ===


def to_dict(message: Any) -> dict[str, Any]:
    return MessageToDict(message)


def user_message(text: str, *, data: Any = None, task_id: str | None = None, context_id: str | None = None) -> Message:
    parts = [new_text_part(text)] + ([new_data_part(data)] if data is not None else [])
    return Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=parts, task_id=task_id, context_id=context_id)


@asynccontextmanager
async def sdk_client(
    card_url: str,
    *,
    binding: str = JSONRPC,
    streaming: bool = False,
    headers: Mapping[str, str] | None = None,
    protocol_version: str | None = None,
) -> AsyncIterator[Client]:
    """An SDK client for the agent whose card is at `card_url` (the card's full URL, as a gateway
    publishes it), speaking `binding` ("JSONRPC" or "HTTP+JSON"). `headers` go on every request,
    the card fetch included. `protocol_version="0.3"` keeps only the card's 0.3 interfaces, so
    the SDK uses its v0.3 transports; by default it picks the 1.0 interface."""
    async with httpx.AsyncClient(headers=dict(headers or {}), timeout=READ_TIMEOUT_S) as http:
        # agent_card_path="" makes the resolver fetch card_url itself, not card_url + well-known.
        card = await A2ACardResolver(http, card_url, agent_card_path="").get_agent_card()
        if protocol_version is not None:
            keep = [i for i in card.supported_interfaces if i.protocol_version == protocol_version]
            del card.supported_interfaces[:]
            card.supported_interfaces.extend(keep)
        config = ClientConfig(
            streaming=streaming,
            httpx_client=http,
            supported_protocol_bindings=[binding],
            use_client_preference=True,
        )
        client = ClientFactory(config).create(card)
        try:
            yield client
        finally:
            await client.close()


async def sdk_send(
    card_url: str,
    text: str,
    *,
    binding: str = JSONRPC,
    streaming: bool = False,
    headers: Mapping[str, str] | None = None,
    task_id: str | None = None,
    context_id: str | None = None,
    data: Any = None,
    protocol_version: str | None = None,
) -> list[dict[str, Any]]:
    """Sends one user message (`text`, plus a data part if `data` is given) and returns every
    StreamResponse the SDK yields, as dicts: `{"message": …}`, `{"task": …}`, `{"statusUpdate":
    …}`, `{"artifactUpdate": …}`. Without streaming that is one item (the SendMessage result)."""
    async with sdk_client(card_url, binding=binding, streaming=streaming, headers=headers, protocol_version=protocol_version) as client:
        request = SendMessageRequest(message=user_message(text, data=data, task_id=task_id, context_id=context_id))
        return [to_dict(event) async for event in client.send_message(request)]


async def sdk_get_task(card_url: str, task_id: str, *, binding: str = JSONRPC, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    async with sdk_client(card_url, binding=binding, headers=headers) as client:
        return to_dict(await client.get_task(GetTaskRequest(id=task_id)))


async def sdk_cancel_task(card_url: str, task_id: str, *, binding: str = JSONRPC, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    async with sdk_client(card_url, binding=binding, headers=headers) as client:
        return to_dict(await client.cancel_task(CancelTaskRequest(id=task_id)))


async def sdk_list_tasks(card_url: str, *, binding: str = JSONRPC, headers: Mapping[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    """ListTasks (v1.0 only; there is no v0.3 method). `fields` are ListTasksRequest fields
    (`context_id`, `page_size`, …)."""
    async with sdk_client(card_url, binding=binding, headers=headers) as client:
        return to_dict(await client.list_tasks(ListTasksRequest(**fields)))


def final_state(events: list[dict[str, Any]]) -> str | None:
    """The last task state in a list of events from `sdk_send` (None if there was only a message)."""
    state = None
    for event in events:
        status = (event.get("task") or event.get("statusUpdate") or {}).get("status")
        if status:
            state = status.get("state")
    return state


# === raw JSON-RPC and SSE over httpx ===


def _headers(version: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
    out = {"Content-Type": "application/json"}
    if version is not None:
        out["A2A-Version"] = version
    return {**out, **(headers or {})}


def _request(method: str, params: Any, request_id: int | str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


async def jsonrpc(
    url: str,
    method: str,
    params: Any,
    *,
    version: str | None = "1.0",
    headers: Mapping[str, str] | None = None,
    request_id: int | str = 1,
) -> dict[str, Any]:
    """POSTs one JSON-RPC request to `url` and returns the parsed response body. `version` is
    the A2A-Version header (None: no header, which an a2a-sdk server reads as v0.3). Fails
    unless the answer is HTTP 200 with a JSON body (JSON-RPC errors come with 200)."""
    async with httpx.AsyncClient(timeout=READ_TIMEOUT_S) as http:
        r = await http.post(url, json=_request(method, params, request_id), headers=_headers(version, headers))
    assert r.status_code == 200, f"{method} at {url}: HTTP {r.status_code}: {r.text}"
    return r.json()


async def sse_stream(
    http_method: str,
    url: str,
    *,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[tuple[float, dict[str, Any]]]:
    """Yields `(time.monotonic() at arrival, parsed data)` for each SSE event of the response,
    as it arrives. For JSON-RPC streams and for the REST ones (`POST /message:stream`,
    `GET /tasks/{id}:subscribe`). Fails unless the answer is HTTP 200 text/event-stream."""
    async with httpx.AsyncClient(timeout=READ_TIMEOUT_S) as http:
        async with http.stream(http_method, url, json=json_body, headers=dict(headers or {})) as r:
            if r.status_code != 200 or not r.headers.get("content-type", "").startswith("text/event-stream"):
                await r.aread()
                raise AssertionError(f"{http_method} {url}: HTTP {r.status_code} {r.headers.get('content-type')}: {r.text}")
            data: list[str] = []
            async for line in r.aiter_lines():
                if line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif line == "" and data:
                    yield time.monotonic(), json.loads("\n".join(data))
                    data = []
            if data:
                yield time.monotonic(), json.loads("\n".join(data))


async def jsonrpc_stream(
    url: str,
    method: str,
    params: Any,
    *,
    version: str | None = "1.0",
    headers: Mapping[str, str] | None = None,
    request_id: int | str = 1,
) -> AsyncIterator[tuple[float, dict[str, Any]]]:
    """A streaming JSON-RPC call (`SendStreamingMessage`, `SubscribeToTask`, v0.3
    `message/stream`): yields `(arrival time, JSON-RPC response object)` per SSE event."""
    async for item in sse_stream("POST", url, json_body=_request(method, params, request_id), headers=_headers(version, headers)):
        yield item


def text_message_params(text: str, *, task_id: str | None = None, context_id: str | None = None, v03: bool = False) -> dict[str, Any]:
    """`params` of SendMessage (v1.0) or message/send (v0.3, `v03=True`) for one text part."""
    if v03:
        message: dict[str, Any] = {"kind": "message", "role": "user", "messageId": str(uuid.uuid4()), "parts": [{"kind": "text", "text": text}]}
    else:
        message = {"role": "ROLE_USER", "messageId": str(uuid.uuid4()), "parts": [{"text": text}]}
    if task_id:
        message["taskId"] = task_id
    if context_id:
        message["contextId"] = context_id
    return {"message": message}
