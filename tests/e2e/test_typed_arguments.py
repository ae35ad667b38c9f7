"""A `forbid` limit holds whatever JSON type an argument is sent as: arguments are validated
against the tool's declared `inputSchema` before the policy decides, integers must be exact, a
forbid that errors denies (fail closed), and nothing refused reaches the upstream (the fixture
counts every call it receives).

The policies are `examples/secure`'s refund limit, written as a `forbid ... unless`, which is
what a security team writes and what was bypassed by `150.0`, `"150"` and `100.00004`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import harness
import httpx
import pytest
from raw_mcp import RpcError
from test_auth import AuthSession, Keys, bearer, keys, start_policy_hub, upstream  # noqa: F401

POLICIES = """
@id("payments-use-fixture")
permit (principal in Group::"payments", action == Action::"call_tool", resource in Upstream::"fixture");

@id("payments-use-lax")
permit (principal in Group::"payments", action == Action::"call_tool", resource in Upstream::"lax");

@id("refunds-up-to-100")
forbid (principal, action == Action::"call_tool", resource)
when { resource.name == "refund" }
unless { context.arguments has amount && context.arguments.amount <= 100 };
"""

INVALID_PARAMS = -32602


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, keys: Keys, upstream: harness.FixtureServer) -> Iterator[harness.Hub]:
    # The same counting upstream twice: once validated (the default), once not.
    lax = {**harness.http_spec(upstream.url), "validate_arguments": "off"}
    upstreams = {"fixture": harness.http_spec(upstream.url), "lax": lax}
    audit = {"sink": "audit.jsonl", "arguments": "log"}
    dir = tmp_path_factory.mktemp("typed-hub")
    hub = start_policy_hub(dir, keys, {"payments.cedar": POLICIES}, upstreams, "agentmux-typed", audit=audit)
    yield hub
    hub.stop()


def session(hub: harness.Hub, keys: Keys, sub: str, groups: list[str]) -> AuthSession:
    return AuthSession(hub.url("/mcp"), bearer(keys.token(sub=sub, groups=groups)))


def call_error(s: AuthSession, name: str, arguments: Any) -> dict[str, Any]:
    with pytest.raises(RpcError) as e:
        s.request("tools/call", {"name": name, "arguments": arguments})
    return {"code": e.value.code, "message": e.value.error.get("message", "")}


def count(s: AuthSession) -> int:
    return s.request("tools/call", {"name": "fixture__count_calls", "arguments": {}})["structuredContent"]["count"]


def test_every_type_of_amount_above_the_limit_is_refused(hub: harness.Hub, keys: Keys) -> None:
    with session(hub, keys, "alice", ["payments"]) as pay:
        before = count(pay)
        for amount, problem in (
            (150.0, "150.0 is not an integer"),
            ("150", 'is not of type "integer"'),
            (100.00004, 'is not of type "integer"'),
            (1e20, "beyond the 64-bit integer range"),
            (2**64 - 1, "beyond the 64-bit integer range"),
            (2**70, "beyond the 64-bit integer range"),
            (-5, "less than the minimum"),
            ([150], 'is not of type "integer"'),
        ):
            error = call_error(pay, "fixture__refund", {"amount": amount})
            assert error["code"] == INVALID_PARAMS and "arguments/amount" in error["message"], (amount, error)
            assert problem in error["message"], (amount, error)
        missing = call_error(pay, "fixture__refund", {"currency": "EUR"})
        assert '"amount" is a required property' in missing["message"], missing
        # An exact integer over the limit: the forbid decides (a denial reads like an unknown tool).
        over = call_error(pay, "fixture__refund", {"amount": 150})
        assert "unknown tool" in over["message"], over
        ok = pay.request("tools/call", {"name": "fixture__refund", "arguments": {"amount": 100}})
        assert ok["structuredContent"]["amount"] == 100
        assert count(pay) == before + 2, "a refused call reached the upstream"


def test_without_validation_a_forbid_that_cannot_compare_denies(hub: harness.Hub, keys: Keys) -> None:
    with session(hub, keys, "alice", ["payments"]) as pay:
        before = count(pay)
        # `validate_arguments: off`: the values reach the policy by their JSON form. A string or
        # a list cannot be compared with 100: the forbid errors, and an erroring forbid denies.
        for amount in ("150", "50", [150], {"value": 150}, True):
            error = call_error(pay, "lax__refund", {"amount": amount})
            assert "unknown tool" in error["message"], (amount, error)
        # A number with more decimals than a policy can compare exactly is refused, not rounded.
        error = call_error(pay, "lax__refund", {"amount": 100.00004})
        assert error["code"] == INVALID_PARAMS and "more than 4 decimal places" in error["message"], error
        assert pay.request("tools/call", {"name": "lax__refund", "arguments": {"amount": 50}})["structuredContent"]["amount"] == 50
        assert count(pay) == before + 2


def test_a_caller_who_may_not_use_the_tool_learns_nothing_of_its_schema(hub: harness.Hub, keys: Keys) -> None:
    with session(hub, keys, "bob", ["eng"]) as eng:
        for arguments in ({"amount": "150"}, {"amount": 150.0}, {}):
            error = call_error(eng, "fixture__refund", arguments)
            assert "unknown tool" in error["message"] and "integer" not in error["message"], error


def test_refusals_are_audited_with_the_reason(hub: harness.Hub, keys: Keys) -> None:
    with session(hub, keys, "alice", ["payments"]) as pay:
        call_error(pay, "fixture__refund", {"amount": 150.5, "note": "audit-me"})
    path = hub.config_path.parent / "audit.jsonl"
    events: list[dict[str, Any]] = harness.wait_until(
        lambda: [e for e in map(json.loads, path.read_text().splitlines()) if (e.get("arguments") or {}).get("note") == "audit-me"],
        10, f"an audit event for the refused call in {path}",
    )
    e = events[-1]
    assert e["decision"] == "deny" and e["resource"] == "fixture/refund", e
    assert any("arguments/amount" in reason for reason in e["policy_errors"]), e


def test_stateless_calls_are_validated_the_same(hub: harness.Hub, keys: Keys) -> None:
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "fixture__refund", "arguments": {"amount": "150"}, "_meta": meta}}
    headers = {
        **bearer(keys.token(sub="alice", groups=["payments"])),
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "fixture__refund",
    }
    r = httpx.post(hub.url("/mcp"), json=body, headers=headers, timeout=10)
    error = r.json()["error"]
    assert error["code"] == INVALID_PARAMS and "arguments/amount" in error["message"], r.text
