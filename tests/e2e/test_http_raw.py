"""Streamable HTTP edge cases on `/mcp`, spoken by hand with httpx (legacy era, 2025-11-25)."""

from __future__ import annotations

import json
import select
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import harness
import httpx
import pytest

VERSION = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": VERSION,
        "capabilities": {},
        "clientInfo": {"name": "agentmux-e2e-raw", "version": "0"},
    },
}
# Far above any sensible request size limit of an MCP endpoint, and never sent whole
# if the server answers early.
OVERSIZE_BYTES = 64 * 1024 * 1024


@pytest.fixture
def http(hub: harness.Hub) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hub.base_url, timeout=20.0) as c:
        yield c


def messages(r: httpx.Response) -> list[dict[str, Any]]:
    """JSON-RPC messages of a response, whether plain JSON or an SSE stream."""
    ctype = r.headers.get("content-type", "")
    if ctype.startswith("text/event-stream"):
        out = []
        for event in r.text.replace("\r\n", "\n").split("\n\n"):
            data = "\n".join(line[5:].lstrip() for line in event.split("\n") if line.startswith("data:"))
            if data:
                out.append(json.loads(data))
        return out
    body = r.json()
    return body if isinstance(body, list) else [body]


def error_codes(r: httpx.Response) -> list[int]:
    try:
        msgs = messages(r)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise AssertionError(f"HTTP {r.status_code} body is not JSON-RPC: {r.text[:500]!r}") from None
    return [m["error"]["code"] for m in msgs if isinstance(m, dict) and isinstance(m.get("error"), dict)]


def post(http: httpx.Client, body: bytes | dict[str, Any] | list[Any], **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.post(
        "/mcp",
        content=content,
        headers={"Content-Type": "application/json", "Accept": ACCEPT, **headers},
    )


def open_session(http: httpx.Client) -> str:
    r = post(http, INITIALIZE)
    assert r.status_code == 200, (r.status_code, r.text)
    session = r.headers.get("mcp-session-id")
    assert session, f"initialize answered without Mcp-Session-Id: {dict(r.headers)}"
    result = next(m for m in messages(r) if m.get("id") == 1)["result"]
    assert result["protocolVersion"] == VERSION, result
    r = post(
        http,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        **{"Mcp-Session-Id": session, "MCP-Protocol-Version": VERSION},
    )
    assert r.status_code == 202, (r.status_code, r.text)
    return session


def session_headers(session: str) -> dict[str, str]:
    return {"Mcp-Session-Id": session, "MCP-Protocol-Version": VERSION}


def test_malformed_json_is_parse_error(http: httpx.Client) -> None:
    r = post(http, b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"')
    assert r.status_code == 400, (r.status_code, r.text)
    assert error_codes(r) == [-32700], r.text


def test_message_without_method_or_id_is_invalid_request(http: httpx.Client) -> None:
    r = post(http, {"jsonrpc": "2.0"})
    assert r.status_code == 400, (r.status_code, r.text)
    assert error_codes(r) == [-32600], r.text


def test_batch_is_rejected(http: httpx.Client) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    r = post(http, batch, **{"MCP-Protocol-Version": VERSION})
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    codes = error_codes(r)
    assert codes and all(c == -32600 for c in codes), r.text


def test_body_over_limit_is_413(hub: harness.Hub) -> None:
    status = _post_oversized(hub.port, OVERSIZE_BYTES)
    assert status == 413, f"expected HTTP 413 for a {OVERSIZE_BYTES}-byte body, got {status}"


def test_unknown_session_is_404(http: httpx.Client) -> None:
    r = post(http, {"jsonrpc": "2.0", "id": 7, "method": "tools/list"}, **session_headers(uuid.uuid4().hex))
    assert r.status_code == 404, (r.status_code, r.text)


def test_bad_origin_is_403(http: httpx.Client, hub: harness.Hub) -> None:
    r = post(http, INITIALIZE, Origin="http://evil.example")
    assert r.status_code == 403, (r.status_code, r.text)
    # The same request from the hub's own origin is fine: the 403 is about the Origin.
    r = post(http, INITIALIZE, Origin=hub.base_url)
    assert r.status_code == 200, (r.status_code, r.text)


def test_notification_is_202(http: httpx.Client) -> None:
    session = open_session(http)  # asserts 202 for notifications/initialized
    r = post(
        http,
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 12345, "reason": "test"}},
        **session_headers(session),
    )
    assert r.status_code == 202, (r.status_code, r.text)
    assert r.content == b"", r.content


def test_session_works_then_delete_then_404(http: httpx.Client) -> None:
    session = open_session(http)
    r = post(http, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, **session_headers(session))
    assert r.status_code == 200, (r.status_code, r.text)
    listed = next(m for m in messages(r) if m.get("id") == 2)
    assert listed["result"]["tools"], listed

    r = http.delete("/mcp", headers=session_headers(session))
    assert r.status_code in (200, 202, 204), (r.status_code, r.text)

    r = post(http, {"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, **session_headers(session))
    assert r.status_code == 404, (r.status_code, r.text)


def _post_oversized(port: int, size: int) -> int | None:
    """POST `size` bytes with Content-Length over a raw socket; return the status the server sends.

    Writing stops as soon as the server answers (a server may reject on the Content-Length
    alone and close the connection), which httpx cannot express.
    """
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: {ACCEPT}\r\nMCP-Protocol-Version: {VERSION}\r\nContent-Length: {size}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    prefix = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"everything__echo","arguments":{"message":"'
    chunk = b"x" * (64 * 1024)
    deadline = time.monotonic() + 60
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        sent = 0
        try:
            s.sendall(head + prefix)
            sent = len(prefix)
            while sent < size and time.monotonic() < deadline:
                readable, _, _ = select.select([s], [], [], 0)
                if readable:
                    break
                piece = chunk[: size - sent]
                s.sendall(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the server stopped reading; its answer may already be in the receive buffer
        s.settimeout(20)
        data = b""
        try:
            while b"\r\n" not in data:
                more = s.recv(4096)
                if not more:
                    break
                data += more
        except (ConnectionResetError, TimeoutError, socket.timeout):
            pass
    if not data.startswith(b"HTTP/1."):
        return None
    return int(data.split(b" ", 2)[1])
