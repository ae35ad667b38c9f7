"""A hand-spoken legacy-era (2025-11-25) Streamable HTTP MCP session over httpx.

For checks the SDK client would blur: exact JSON of lists and results (fields the SDK's models
do not know), JSON-RPC error codes, and the standalone GET stream.
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import httpx

VERSION = "2025-11-25"
ACCEPT = "application/json, text/event-stream"


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"JSON-RPC error {error.get('code')}: {error.get('message')} {error.get('data', '')}")
        self.error = error
        self.code = error.get("code")


def sse_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """JSON-RPC messages from the `data:` fields of an SSE line stream (events without data skipped)."""
    data: list[str] = []
    for line in lines:
        line = line.rstrip("\r")
        if line == "":
            if data:
                text = "\n".join(data)
                data = []
                if text.strip():
                    yield json.loads(text)
            continue
        if line.startswith("data:"):
            data.append(line[5:].lstrip(" ") if line.startswith("data: ") else line[5:])
    if data and "\n".join(data).strip():
        yield json.loads("\n".join(data))


def messages(r: httpx.Response) -> list[dict[str, Any]]:
    """JSON-RPC messages of a finished response, plain JSON or SSE."""
    if r.headers.get("content-type", "").startswith("text/event-stream"):
        return list(sse_events(iter(r.text.replace("\r\n", "\n").split("\n") + [""])))
    body = r.json()
    return body if isinstance(body, list) else [body]


class RawSession:
    """One initialized legacy session on `url` (e.g. http://127.0.0.1:PORT/mcp)."""

    def __init__(self, url: str, *, timeout: float = 30.0, client_name: str = "agentmux-e2e-raw") -> None:
        self.url = url
        self.http = httpx.Client(timeout=timeout)
        self._ids = itertools.count(1)
        self.session_id: str | None = None
        self.notifications: list[dict[str, Any]] = []
        init = self.request(
            "initialize",
            {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": client_name, "version": "0"}},
        )
        self.initialize_result = init
        self.notify("notifications/initialized")

    def headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json", "Accept": ACCEPT, "MCP-Protocol-Version": VERSION}
        if self.session_id:
            h["Mcp-Session-Id"] = self.session_id
        return h

    def post(self, body: dict[str, Any]) -> httpx.Response:
        r = self.http.post(self.url, content=json.dumps(body).encode(), headers=self.headers())
        if body.get("method") == "initialize" and r.status_code == 200:
            self.session_id = r.headers.get("mcp-session-id")
        return r

    def request(self, method: str, params: dict[str, Any] | None = None, *, id: Any = None) -> dict[str, Any]:
        """The `result` of one request; raises RpcError for a JSON-RPC error."""
        rid = next(self._ids) if id is None else id
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            body["params"] = params
        r = self.post(body)
        assert r.status_code == 200, f"{method}: HTTP {r.status_code}: {r.text[:500]}"
        msgs = messages(r)
        answer = [m for m in msgs if m.get("id") == rid and ("result" in m or "error" in m)]
        self.notifications.extend(m for m in msgs if "method" in m and "id" not in m)
        assert len(answer) == 1, f"{method}: expected one answer with id {rid}, got {msgs}"
        if "error" in answer[0]:
            raise RpcError(answer[0]["error"])
        return answer[0]["result"]

    def notify(self, method: str, params: dict[str, Any] | None = None) -> httpx.Response:
        body: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            body["params"] = params
        r = self.post(body)
        assert r.status_code == 202, f"{method}: HTTP {r.status_code}: {r.text[:300]}"
        return r

    def list_all(self, method: str, field: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = None
        for _ in range(100):
            result = self.request(method, {"cursor": cursor} if cursor else None)
            out.extend(result[field])
            cursor = result.get("nextCursor")
            if not cursor:
                return out
        raise AssertionError(f"{method} paged for more than 100 pages")

    def open_get_stream(self) -> GetStream:
        return GetStream(self)

    def close(self) -> None:
        if self.session_id:
            try:
                self.http.delete(self.url, headers=self.headers(), timeout=5)
            except httpx.HTTPError:
                pass
        self.http.close()

    def __enter__(self) -> RawSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GetStream:
    """The session's standalone GET SSE stream, read on a thread into a queue."""

    def __init__(self, session: RawSession) -> None:
        headers = session.headers()
        headers["Accept"] = "text/event-stream"
        headers.pop("Content-Type", None)
        self._client = httpx.Client(timeout=httpx.Timeout(10.0, read=None))
        self._cm = self._client.stream("GET", session.url, headers=headers)
        self.response = self._cm.__enter__()
        assert self.response.status_code == 200, f"GET stream: HTTP {self.response.status_code}"
        assert self.response.headers.get("content-type", "").startswith("text/event-stream"), self.response.headers
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True, name="raw-get-stream")
        self._thread.start()

    def _read(self) -> None:
        try:
            for message in sse_events(self.response.iter_lines()):
                self.queue.put(message)
        except (httpx.HTTPError, RuntimeError, ValueError):
            pass

    def wait_for(self, method: str, timeout: float) -> dict[str, Any]:
        """The next message with `method` (others are skipped); AssertionError after `timeout`."""
        import time

        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {method} on the GET stream within {timeout}s (saw {seen})")
            try:
                message = self.queue.get(timeout=left)
            except queue.Empty:
                continue
            if message.get("method") == method:
                return message
            seen.append(str(message.get("method")))

    def close(self) -> None:
        try:
            self._cm.__exit__(None, None, None)
        except (httpx.HTTPError, RuntimeError):
            pass
        self._client.close()
