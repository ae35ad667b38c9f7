"""Per-tool authorization with Cedar policies, end to end: real tokens (signed by a key the test
makes), the Rust fixture upstream counting the calls it receives, and every bypass attempt the
issue lists. Nothing denied may reach the upstream; lists show only what the caller may use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import harness
import httpx
import pytest
from raw_mcp import ACCEPT, VERSION, RawSession, RpcError
# The signing keys and the counting fixture upstream, one of each per test module.
from test_auth import AUD, ISS, AuthSession, Keys, bearer, keys, post, upstream  # noqa: F401

# Bounds on waits for events; generous, because a wait ends as soon as the event is seen.
RELOAD_WITHIN_S = 30.0
AUDIT_WITHIN_S = 10.0

POLICIES = {
    "readers.cedar": """
@id("read-only-for-eng")
permit (principal in Group::"eng", action == Action::"call_tool", resource) when { resource.read_only };

@id("eng-echo")
permit (principal in Group::"eng", action == Action::"call_tool", resource == Tool::"fixture/echo");
""",
    "payments.cedar": """
@id("refunds-up-to-100")
permit (principal in Group::"payments", action == Action::"call_tool", resource == Tool::"fixture/refund")
when { context.arguments has amount && context.arguments.amount <= 100 };

@id("payments-count")
permit (principal in Group::"payments", action == Action::"call_tool", resource == Tool::"fixture/count_calls");
""",
    "other.cedar": """
@id("never-other")
forbid (principal, action, resource in Upstream::"other");

@id("eng-other-echo")
permit (principal in Group::"eng", action == Action::"call_tool", resource == Tool::"other/echo");
""",
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, keys: Keys, upstream: harness.FixtureServer) -> Iterator[harness.Hub]:
    dir = tmp_path_factory.mktemp("authz-hub")
    (dir / "jwks.json").write_text(json.dumps(keys.jwks()))
    policies = dir / "policies"
    policies.mkdir()
    for name, text in POLICIES.items():
        (policies / name).write_text(text)
    settings = {
        "auth": {"issuers": [{"issuer": ISS, "audiences": [AUD], "jwks": "jwks.json"}]},
        "policies": "policies/",
        "audit": {"sink": "audit.jsonl", "arguments": "log"},
    }
    upstreams = {"fixture": harness.http_spec(upstream.url), "other": harness.fixture_stdio_spec()}
    hub = harness.start_hub(dir, upstreams, name="agentmux-authz", settings=settings)
    yield hub
    hub.stop()


def session(hub: harness.Hub, keys: Keys, sub: str, groups: list[str], path: str = "/mcp") -> AuthSession:
    return AuthSession(hub.url(path), bearer(keys.token(sub=sub, groups=groups)))


def tool_names(s: RawSession) -> set[str]:
    return {t["name"] for t in s.list_all("tools/list", "tools")}


def count(s: RawSession) -> int:
    """Calls the upstream has received, this one included (as a payments user may ask)."""
    return s.request("tools/call", {"name": "fixture__count_calls", "arguments": {}})["structuredContent"]["count"]


def call_error(s: RawSession, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    with pytest.raises(RpcError) as e:
        s.request("tools/call", {"name": name, "arguments": arguments or {}})
    return e.value.error


# === lists ===


def test_lists_show_only_what_the_caller_may_use(hub: harness.Hub, keys: Keys) -> None:
    with session(hub, keys, "bob", ["eng"]) as eng:
        names = tool_names(eng)
        assert {"fixture__count_calls", "fixture__echo"} <= names
        assert "fixture__refund" not in names and "fixture__slow" not in names
        # A forbid wins over a permit: nothing of `other` is listed.
        assert not any(n.startswith("other__") for n in names), names
    with session(hub, keys, "alice", ["payments"]) as pay:
        names = tool_names(pay)
        # Listed: a permit that depends on the arguments may allow some call.
        assert names == {"fixture__refund", "fixture__count_calls"}, names
    with session(hub, keys, "eve", []) as nobody:
        assert tool_names(nobody) == set()


# === calls ===


def test_argument_limits_and_default_deny(hub: harness.Hub, keys: Keys) -> None:
    with session(hub, keys, "alice", ["payments"]) as pay:
        before = count(pay)
        ok = pay.request("tools/call", {"name": "fixture__refund", "arguments": {"amount": 50, "currency": "EUR"}})
        assert ok["structuredContent"] == {"amount": 50, "currency": "EUR"}
        denied = call_error(pay, "fixture__refund", {"amount": 150})
        unknown = call_error(pay, "fixture__no_such_tool")
        # A denial does not reveal that the tool exists.
        assert denied["code"] == unknown["code"] and "unknown tool" in denied["message"]
        call_error(pay, "fixture__refund", {})
        call_error(pay, "fixture__echo", {"text": "hi"})
        assert count(pay) == before + 2  # the allowed refund and the second count


def test_bypass_attempts_never_reach_the_upstream(hub: harness.Hub, keys: Keys) -> None:
    with session(hub, keys, "alice", ["payments"]) as pay, session(hub, keys, "bob", ["eng"]) as eng:
        before = count(pay)
        for name in (
            "FIXTURE__refund",
            "fixture__Refund",
            "fixture__r\u0435fund",  # Cyrillic е
            "fixture____refund",
            "fixture__refund_",
            "fixture__refund ",
            "fixture__",
            "__refund",
            "refund",
        ):
            call_error(pay, name, {"amount": 500})
        # Another upstream's tool of the same name: forbidden whatever permits it.
        call_error(eng, "other__echo", {"text": "x"})
        # The single-upstream endpoint is authorized exactly like /mcp.
        with session(hub, keys, "bob", ["eng"], path="/mcp/fixture") as single:
            call_error(single, "refund", {"amount": 1})
            assert single.request("tools/call", {"name": "echo", "arguments": {"text": "ok"}})["content"][0]["text"] == "ok"
        # Duplicate keys: the policy must decide on what the upstream would receive, so refuse.
        for body in (
            '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"fixture__count_calls","name":"fixture__refund","arguments":{"amount":1}}}',
            '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"fixture__refund","arguments":{"amount":50,"amount":5000}}}',
            # The same for a tool nobody may call: the error is about the arguments, not the tool.
            '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"other__echo","arguments":{"text":"a","text":"b"}}}',
        ):
            r = httpx.post(pay.url, content=body, headers=pay.headers(), timeout=10)
            assert "error" in r.text and '"result"' not in r.text, r.text
            assert "duplicate key" in r.text.lower(), r.text
        # JSON-RPC batches are not MCP (2025-06-18 removed them).
        batch = [{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "fixture__refund", "arguments": {"amount": 1}}}]
        r = httpx.post(pay.url, json=batch, headers=pay.headers(), timeout=10)
        assert r.status_code == 400 and '"result"' not in r.text
        # Deeply nested and huge arguments.
        nested: Any = 1
        for _ in range(200):
            nested = {"a": nested}
        assert "nested deeper than 32" in call_error(pay, "fixture__refund", {"amount": 1, "deep": nested})["message"]
        r = httpx.post(
            pay.url,
            json={"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {"name": "fixture__refund", "arguments": {"amount": 1, "pad": "x" * 5_000_000}}},
            headers=pay.headers(),
            timeout=30,
        )
        assert r.status_code == 413
        # Stateless (2026-07-28): an Mcp-Name header that disagrees with the body.
        meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
        body = {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "fixture__refund", "arguments": {"amount": 1}, "_meta": meta}}
        headers = {**bearer(keys.token(sub="bob", groups=["eng"])), "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "fixture__echo"}
        r = post(hub.url("/mcp"), body, headers)
        assert r.status_code == 400 and r.json()["error"]["code"] == -32020, r.text
        # Stateless, headers consistent: decided like any call.
        headers["Mcp-Name"] = "fixture__refund"
        r = post(hub.url("/mcp"), body, headers)
        assert "error" in r.json(), r.text
        # Only the allowed echo on /mcp/fixture and this count reached it.
        assert count(pay) == before + 2, "a denied call reached the upstream"


def test_a_session_id_presented_by_another_identity_is_unknown(hub: harness.Hub, keys: Keys) -> None:
    with session(hub, keys, "alice", ["payments"]) as alice:
        alice.request("tools/list")
        stolen = {**bearer(keys.token(sub="mallory", groups=["payments"])), "Mcp-Session-Id": alice.session_id or ""}
        body = {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}}
        r = post(hub.url("/mcp"), body, stolen)
        assert r.status_code == 404, r.text
        # The owner still has it.
        assert alice.request("tools/list")["tools"]
    hub.proc.logged("session id presented by another caller")


def test_audit_log_records_decisions_and_outcomes(hub: harness.Hub, keys: Keys) -> None:
    token = keys.token(sub="alice", groups=["payments"])
    with AuthSession(hub.url("/mcp"), bearer(token)) as pay:
        pay.request("tools/call", {"name": "fixture__refund", "arguments": {"amount": 42}})
        call_error(pay, "fixture__refund", {"amount": 4200})
    path = hub.config_path.parent / "audit.jsonl"

    def audited() -> list[dict[str, Any]] | None:
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return lines if any(e.get("arguments") == {"amount": 4200} for e in lines) else None

    lines = harness.wait_until(audited, AUDIT_WITHIN_S, f"the denied refund of 4200 in {path}")
    allowed = [e for e in lines if e.get("arguments") == {"amount": 42}]
    denied = [e for e in lines if e.get("arguments") == {"amount": 4200}]
    assert allowed and denied, lines
    a, d = allowed[-1], denied[-1]
    assert a["event"] == "call" and a["decision"] == "allow" and a["policies"] == ["refunds-up-to-100"]
    assert a["status"] == "ok" and a["upstream_ms"] >= 0 and a["resource"] == "fixture/refund"
    assert a["principal"] == {"type": "User", "id": "alice", "issuer": ISS}
    assert d["event"] == "decision" and d["decision"] == "deny" and d["policies"] == []
    assert token not in path.read_text()


def policy_loads(hub: harness.Hub, outcome: str) -> int:
    """agentmux_policy_loads_total{outcome=…}: how many policy sets were accepted or rejected."""
    metrics = httpx.get(hub.url("/metrics"), timeout=10).text
    found = re.search(rf'^agentmux_policy_loads_total\{{outcome="{outcome}"\}} (\d+)', metrics, re.MULTILINE)
    return int(found.group(1)) if found else 0


def test_policy_reload_is_atomic_and_an_invalid_set_keeps_the_old_one(hub: harness.Hub, keys: Keys) -> None:
    # Reloads are waited for by what they change (a counter, a list), never by the period
    # agentmux happens to check the directory with.
    policies = hub.config_path.parent / "policies"
    with session(hub, keys, "carol", ["ops"]) as ops:
        assert tool_names(ops) == set()
        # A broken policy file: refused, the running set stays (carol still sees nothing, bob still works).
        rejected = policy_loads(hub, "rejected")
        (policies / "ops.cedar").write_text('permit (principal in Group::"ops", action, resource) when { resource.nope };')
        harness.wait_until(
            lambda: policy_loads(hub, "rejected") > rejected, RELOAD_WITHIN_S,
            'the broken ops.cedar to be refused (agentmux_policy_loads_total{outcome="rejected"} to grow)',
        )
        assert tool_names(ops) == set()
        with session(hub, keys, "bob", ["eng"]) as eng:
            assert "fixture__echo" in tool_names(eng)
        # Fixed: the new set takes over.
        accepted = policy_loads(hub, "accepted")
        (policies / "ops.cedar").write_text('permit (principal in Group::"ops", action == Action::"call_tool", resource == Tool::"fixture/slow");')
        harness.wait_until(
            lambda: tool_names(ops) == {"fixture__slow"}, RELOAD_WITHIN_S, "carol (ops) to be listed fixture__slow by the fixed set"
        )
        assert policy_loads(hub, "accepted") > accepted
        # Back to the module's set, before other tests use the hub.
        (policies / "ops.cedar").unlink()
        harness.wait_until(lambda: tool_names(ops) == set(), RELOAD_WITHIN_S, "the set without ops.cedar to hide fixture__slow again")


def test_policy_cli_runs_the_documented_examples() -> None:
    binary = harness.require_binary(harness.AGENTMUX_BIN, "agentmux")
    example = harness.REPO / "examples" / "secure"
    import subprocess

    out = subprocess.run(
        [binary, "policy", "test", "--config", example / "agentmux.yaml", example / "policies" / "tests.yaml"],
        capture_output=True,
        text=True,
        cwd=harness.REPO,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 failed" in out.stdout
    explained = subprocess.run(
        [
            binary, "policy", "explain", "--config", example / "agentmux.yaml",
            "--principal", 'User::"alice"', "--group", "payments",
            "--resource", "stripe/refund", "--arguments", '{"amount": 500}',
        ],
        capture_output=True,
        text=True,
        cwd=harness.REPO,
    )
    assert explained.returncode == 0 and "forbidden by refunds-up-to-100" in explained.stdout, explained.stdout + explained.stderr


def test_validate_names_the_file_and_line_of_a_broken_policy(tmp_path: Path) -> None:
    import subprocess

    binary = harness.require_binary(harness.AGENTMUX_BIN, "agentmux")
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "ok.cedar").write_text('permit (principal, action, resource);\n')
    (tmp_path / "policies" / "broken.cedar").write_text('\n\npermit (principal, action resource);\n')
    (tmp_path / "agentmux.yaml").write_text("policies: policies/\nregistry: []\n")
    out = subprocess.run([binary, "validate", "--config", tmp_path / "agentmux.yaml"], capture_output=True, text=True)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "broken.cedar: line 3:" in out.stderr, out.stderr
    (tmp_path / "policies" / "broken.cedar").unlink()
    out = subprocess.run([binary, "validate", "--config", tmp_path / "agentmux.yaml"], capture_output=True, text=True)
    assert out.returncode == 0 and "1 policies parse" in out.stdout, out.stdout + out.stderr
