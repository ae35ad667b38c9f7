"""The HTTP edge under attack from outside, over raw HTTP:

- `/readyz` and `/metrics` pass the same Host/Origin check as /mcp, and `server.metrics_token`
  keeps them to whoever holds the token (`/healthz` stays open);
- `context.endpoint` is the canonical route, so a policy on `/mcp/fixture` cannot be sidestepped
  by percent-encoding the path, and legacy clients are `/sse` whichever route they post to;
- `context.client_ip` believes `X-Forwarded-For` only from `server.trusted_proxies`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import harness
import httpx
import pytest
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.shared.exceptions import MCPError
from raw_mcp import RawSession, RpcError

METRICS_TOKEN = "e2e-metrics-token-0f3c9a"


class Session(RawSession):
    """A legacy-era session whose every request carries `extra` headers."""

    def __init__(self, url: str, extra: dict[str, str] | None = None) -> None:
        self.extra = extra or {}
        super().__init__(url)

    def headers(self) -> dict[str, str]:
        return {**super().headers(), **self.extra}


def call(s: RawSession, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The call's error, or None when it was allowed and answered."""
    try:
        s.request("tools/call", {"name": name, "arguments": arguments or {}})
    except RpcError as e:
        return e.error
    return None


def tool_names(s: RawSession) -> set[str]:
    return {t["name"] for t in s.list_all("tools/list", "tools")}


def start_with_policies(dir: Path, policies: str, settings: dict[str, Any] | None = None) -> harness.Hub:
    (dir / "policies").mkdir(parents=True)
    (dir / "policies" / "edge.cedar").write_text(policies)
    all_settings = {"policies": "policies/", "audit": {"sink": "audit.jsonl", "arguments": "log"}, **(settings or {})}
    return harness.start_hub(dir, {"fixture": harness.fixture_stdio_spec()}, name=f"agentmux-{dir.name}", settings=all_settings)


def audit_endpoints(hub: harness.Hub, at_least: int = 0) -> list[str]:
    """The endpoint of each audit line, once there are `at_least` (lines are written in batches)."""
    path = hub.config_path.parent / "audit.jsonl"

    def endpoints() -> list[str] | None:
        lines = [line for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
        return [json.loads(line).get("endpoint") for line in lines] if len(lines) >= at_least else None

    if at_least == 0:
        return endpoints() or []
    return harness.wait_until(endpoints, 10, f"{at_least} audit lines in {path}")


# === /readyz and /metrics ===


@pytest.fixture(scope="module")
def token_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Hub]:
    dir = tmp_path_factory.mktemp("metrics-token")
    # A secret like any other: read from a file, never logged.
    (dir / "metrics.token").write_text(METRICS_TOKEN + "\n")
    config = harness.write_hub_config(
        dir, {"fixture": harness.fixture_stdio_spec()}, settings={"server": {"metrics_token": "${file:metrics.token}"}}
    )
    proc, addr = harness.serve(
        ["--config", config], dir / "logs", name="agentmux-metrics-token", cwd=dir,
        ready_headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
    )
    hub = harness.Hub(proc, int(addr.rsplit(":", 1)[1]), config)
    try:
        yield hub
    finally:
        hub.stop()


@pytest.mark.parametrize("path", ["/readyz", "/metrics"])
def test_operations_routes_want_the_token(token_hub: harness.Hub, path: str) -> None:
    url = token_hub.url(path)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {METRICS_TOKEN}x"},
                    {"Authorization": f"Basic {METRICS_TOKEN}"}, {"X-API-Key": METRICS_TOKEN}):
        r = httpx.get(url, headers=headers, timeout=5)
        assert r.status_code == 401, (headers, r.status_code, r.text)
        assert r.headers["www-authenticate"].startswith("Bearer"), r.headers
        assert "agentmux_" not in r.text and "fixture" not in r.text
    ok = httpx.get(url, headers={"Authorization": f"bearer {METRICS_TOKEN}"}, timeout=5)
    assert ok.status_code == 200, ok.text
    if path == "/metrics":
        assert "agentmux_upstream_up" in ok.text


def test_healthz_stays_open(token_hub: harness.Hub) -> None:
    r = httpx.get(token_hub.url("/healthz"), timeout=5)
    assert r.status_code == 200 and r.text == "ok\n"


def test_the_token_is_never_logged(token_hub: harness.Hub) -> None:
    httpx.get(token_hub.url("/metrics"), headers={"Authorization": "Bearer wrong"}, timeout=5)
    assert METRICS_TOKEN not in token_hub.proc.stderr_path.read_text()
    assert METRICS_TOKEN not in token_hub.proc.stdout_path.read_text()


@pytest.mark.parametrize("path", ["/readyz", "/metrics"])
def test_operations_routes_check_host_and_origin(token_hub: harness.Hub, path: str) -> None:
    """A page reaching a loopback gateway through DNS rebinding reads nothing, token or not."""
    token = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    for bad in ({"Host": "evil.example"}, {"Host": f"evil.example:{token_hub.port}"}, {"Origin": "http://evil.example"}):
        r = httpx.get(token_hub.url(path), headers={**token, **bad}, timeout=5)
        assert r.status_code == 403, (bad, r.status_code, r.text)
        assert "agentmux_" not in r.text and "ready" not in r.text
    assert httpx.get(token_hub.url(path), headers={**token, "Host": "localhost"}, timeout=5).status_code == 200


# === context.endpoint ===

ENDPOINT_POLICIES = """
@id("everything")
permit (principal, action, resource);

@id("not-on-the-single-route")
forbid (principal, action == Action::"call_tool", resource == Tool::"fixture/echo")
when { context.endpoint == "/mcp/fixture" };

@id("legacy-clients-may-not-count")
forbid (principal, action == Action::"call_tool", resource == Tool::"fixture/count_calls")
when { context.endpoint == "/sse" };
"""


@pytest.fixture(scope="module")
def endpoint_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Hub]:
    hub = start_with_policies(tmp_path_factory.mktemp("endpoint"), ENDPOINT_POLICIES)
    yield hub
    hub.stop()


@pytest.mark.parametrize("path", ["/mcp/fixture", "/mcp/%66ixture", "/mcp/%66%69%78%74%75%72%65", "/mcp/fixtur%65"])
def test_a_percent_encoded_route_is_the_same_endpoint(endpoint_hub: harness.Hub, path: str) -> None:
    url = endpoint_hub.url(path)
    # httpx must send the path as written, or this test proves nothing.
    assert httpx.URL(url).raw_path.decode() == path
    before = len(audit_endpoints(endpoint_hub))
    with Session(url) as s:
        denied = call(s, "echo", {"text": "hi"})
        assert denied is not None, f"echo was allowed on {path}"
        assert call(s, "count_calls") is None
    assert audit_endpoints(endpoint_hub, before + 2)[-1] == "/mcp/fixture"


def test_the_federated_endpoint_is_not_affected(endpoint_hub: harness.Hub) -> None:
    before = len(audit_endpoints(endpoint_hub))
    with Session(endpoint_hub.url("/mcp")) as s:
        assert call(s, "fixture__echo", {"text": "hi"}) is None
    assert audit_endpoints(endpoint_hub, before + 1)[-1] == "/mcp"


@pytest.mark.anyio
async def test_legacy_clients_are_the_sse_endpoint(endpoint_hub: harness.Hub) -> None:
    before = len(audit_endpoints(endpoint_hub))
    async with sse_client(endpoint_hub.url("/sse")) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        echoed = await session.call_tool("fixture__echo", {"text": "over sse"})
        assert not echoed.is_error
        with pytest.raises(MCPError):
            await session.call_tool("fixture__count_calls", {})
    endpoints = audit_endpoints(endpoint_hub, before + 2)[before:]
    assert "/sse" in endpoints and "/messages" not in endpoints, endpoints


# === context.client_ip ===

OFFICE_POLICY = """
@id("echo-from-the-office")
permit (principal, action == Action::"call_tool", resource == Tool::"fixture/echo")
when { context has client_ip && context.client_ip.isInRange(ip("10.0.0.0/8")) };
"""

FORGED = [
    {"X-Forwarded-For": "10.1.2.3"},
    {"X-Forwarded-For": "10.1.2.3, 10.9.9.9"},
    {"Forwarded": "for=10.1.2.3"},
    {"X-Real-IP": "10.1.2.3"},
]


def echo_allowed(hub: harness.Hub, headers: dict[str, str]) -> bool:
    with Session(hub.url("/mcp"), headers) as s:
        return call(s, "fixture__echo", {"text": "hi"}) is None


def test_forwarding_headers_are_ignored_without_trusted_proxies(tmp_path: Path) -> None:
    hub = start_with_policies(tmp_path / "untrusting", OFFICE_POLICY)
    try:
        for headers in [{}, *FORGED]:
            assert not echo_allowed(hub, headers), f"{headers} made 127.0.0.1 look like the office"
    finally:
        hub.stop()


def test_a_trusted_proxy_names_the_client(tmp_path: Path) -> None:
    hub = start_with_policies(tmp_path / "trusting", OFFICE_POLICY, {"server": {"trusted_proxies": ["127.0.0.1", "192.168.0.0/16"]}})
    try:
        # The proxy (our loopback peer) says the client is in the office.
        assert echo_allowed(hub, {"X-Forwarded-For": "10.1.2.3"})
        # ... through a chain of trusted proxies.
        assert echo_allowed(hub, {"X-Forwarded-For": "10.1.2.3, 192.168.1.1"})
        # No header: the proxy itself is calling, and it is not in the office.
        assert not echo_allowed(hub, {})
        # The client forged the office address; the proxy appended the real one: right-most wins.
        assert not echo_allowed(hub, {"X-Forwarded-For": "10.1.2.3, 198.51.100.7"})
        # Only the configured header (X-Forwarded-For by default) is read.
        assert not echo_allowed(hub, {"Forwarded": "for=10.1.2.3"})
        # A hop the proxy could not name is no address (not the proxy's own).
        assert not echo_allowed(hub, {"X-Forwarded-For": "10.1.2.3, unknown"})
    finally:
        hub.stop()


def test_forwarded_header_when_configured(tmp_path: Path) -> None:
    settings = {"server": {"trusted_proxies": ["127.0.0.0/8"], "forwarded_header": "forwarded"}}
    hub = start_with_policies(tmp_path / "rfc7239", OFFICE_POLICY, settings)
    try:
        assert echo_allowed(hub, {"Forwarded": 'for="10.1.2.3:4711";proto=http'})
        assert not echo_allowed(hub, {"Forwarded": "for=10.1.2.3, for=198.51.100.7"})
        assert not echo_allowed(hub, {"X-Forwarded-For": "10.1.2.3"})
    finally:
        hub.stop()
