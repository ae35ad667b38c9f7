"""The A2A router: real a2a-sdk agents (fixtures/a2a/agent.py) behind agentmux, called with the
official SDK client and raw JSON-RPC, v1.0 and v0.3. Cards point at agentmux, streams arrive
event by event, tasks are private to the principal that created them, policies decide every
method, push URLs into private networks are refused, and a broken agent hurts nobody else."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import a2a_util
import harness
import httpx
import pytest

pytestmark = pytest.mark.anyio


def new_key(tmp: Path, name: str, group: str) -> tuple[str, str]:
    """`agentmux key new`: the key and its hash for the config."""
    binary = harness.require_binary(harness.AGENTMUX_BIN, "agentmux")
    out = subprocess.run(
        [binary, "key", "new", "--name", name, "--group", group], capture_output=True, text=True, check=True, cwd=tmp
    ).stdout
    key = re.search(r"^\s+(amx_[A-Za-z0-9_-]{43})$", out, re.M)
    digest = re.search(r'hash: "(sha256:[0-9a-f]{64})"', out)
    assert key and digest, out
    return key.group(1), digest.group(1)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, a2a_util.Agent]]:
    logs = tmp_path_factory.mktemp("a2a-agents")
    started: dict[str, a2a_util.Agent] = {}
    try:
        for name, mode, extra in [
            ("echo", "echo", []),
            ("stream", "stream", ["--delay", "0.3"]),
            ("ask", "input", []),
            ("count", "count", []),
        ]:
            started[name] = a2a_util.start_agent(mode, name=name, log_dir=logs, extra_args=extra)
        yield started
    finally:
        for agent in started.values():
            agent.stop()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("a2a-keys")
    return {"alice": new_key(tmp, "alice", "planners"), "bob": new_key(tmp, "bob", "outsiders")}


POLICIES = """
// Planners may do anything with every agent.
permit(principal in Group::"planners", action, resource is Agent);
// Outsiders may talk to `echo` and `ask` only, and read their tasks.
permit(principal in Group::"outsiders", action in [Action::"send_message", Action::"read_task", Action::"read_card", Action::"cancel_task", Action::"configure_push"], resource)
when { resource is Agent && (resource == Agent::"echo" || resource == Agent::"ask") };
"""


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory, agents: dict[str, a2a_util.Agent], keys: dict[str, tuple[str, str]]
) -> Iterator[harness.Hub]:
    config_dir = tmp_path_factory.mktemp("a2a-hub")
    (config_dir / "policies").mkdir()
    (config_dir / "policies" / "a2a.cedar").write_text(POLICIES)
    registry = {name: {"a2a": {"url": agent.url}} for name, agent in agents.items()}
    # Nothing listens there: an agent that is down at start.
    registry["down"] = {"a2a": {"url": "http://127.0.0.1:9"}, "required": False}
    settings = {
        "auth": {
            "api_keys": [
                {"name": name, "hash": digest, "groups": ["planners" if name == "alice" else "outsiders"]}
                for name, (_, digest) in keys.items()
            ]
        },
        "policies": "policies/",
        "audit": {"sink": "audit.log"},
    }
    hub = harness.start_hub(config_dir, registry, name="agentmux-a2a", settings=settings)
    yield hub
    hub.stop()


def alice(keys: dict[str, tuple[str, str]]) -> dict[str, str]:
    return bearer(keys["alice"][0])


def bob(keys: dict[str, tuple[str, str]]) -> dict[str, str]:
    return bearer(keys["bob"][0])


async def test_card_points_at_agentmux_and_the_sdk_works_through_it(
    hub: harness.Hub, agents: dict[str, a2a_util.Agent], keys: dict[str, tuple[str, str]]
) -> None:
    card_url = hub.url("/a2a/echo/.well-known/agent-card.json")
    r = httpx.get(card_url, headers=alice(keys))
    assert r.status_code == 200, r.text
    card = r.json()
    assert {i["url"] for i in card["supportedInterfaces"]} == {hub.url("/a2a/echo")}
    assert card["url"] == hub.url("/a2a/echo"), "the v0.3 url too"
    assert card["capabilities"]["streaming"] is True, "capabilities are kept exactly"
    assert "agentmux" in card["securitySchemes"], "agentmux's own authentication is announced"
    assert str(agents["echo"].port) not in r.text, "nothing points at the agent itself"

    events = await a2a_util.sdk_send(card_url, "hello", headers=alice(keys))
    assert events[-1]["message"]["parts"][0]["text"] == "echo: hello", events

    # v0.3: no A2A-Version header, v0.3 method names and shapes.
    answer = await a2a_util.jsonrpc(
        hub.url("/a2a/echo"), "message/send", a2a_util.text_message_params("old", v03=True), version=None, headers=alice(keys)
    )
    assert answer["result"]["kind"] == "message" and answer["result"]["parts"][0]["text"] == "echo: old", answer

    # The caller's A2A headers reach the agent; the caller's credentials do not.
    await a2a_util.jsonrpc(
        hub.url("/a2a/echo"),
        "SendMessage",
        a2a_util.text_message_params("x"),
        headers={**alice(keys), "A2A-Extensions": "urn:example:ext"},
    )
    seen = httpx.get(agents["echo"].url + "/last-headers").json()
    assert seen.get("A2A-Version") == "1.0" and seen.get("A2A-Extensions") == "urn:example:ext", seen
    assert not seen.get("Authorization"), f"the caller's token must not reach the agent: {seen}"


async def test_stream_events_arrive_as_the_agent_sends_them(hub: harness.Hub, keys: dict[str, tuple[str, str]]) -> None:
    sent = time.monotonic()
    arrivals: list[float] = []
    states: list[str] = []
    async for at, frame in a2a_util.jsonrpc_stream(
        hub.url("/a2a/stream"), "SendStreamingMessage", a2a_util.text_message_params("go"), headers=alice(keys)
    ):
        arrivals.append(at - sent)
        update = frame["result"].get("statusUpdate")
        if update:
            states.append(update["status"]["state"])
    assert states[-1] == "TASK_STATE_COMPLETED", states
    assert len(arrivals) >= 6, arrivals
    # The agent waits 0.3 s between events: unbuffered, they arrive spread out, the first long
    # before the last.
    assert arrivals[-1] - arrivals[0] > 1.0, arrivals
    assert arrivals[0] < arrivals[-1] / 2, arrivals


async def test_tasks_are_private_to_their_creator(hub: harness.Hub, keys: dict[str, tuple[str, str]]) -> None:
    url = hub.url("/a2a/ask")
    first = await a2a_util.jsonrpc(url, "SendMessage", a2a_util.text_message_params("book a trip"), headers=alice(keys))
    task = first["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED", first
    task_id, context_id = task["id"], task["contextId"]

    not_found = -32001
    for method, params in [
        ("GetTask", {"id": task_id}),
        ("CancelTask", {"id": task_id}),
        ("SubscribeToTask", {"id": task_id}),
        ("GetTaskPushNotificationConfig", {"taskId": task_id, "id": task_id}),
        ("SendMessage", a2a_util.text_message_params("Paris", task_id=task_id)),
        ("SendMessage", a2a_util.text_message_params("hi", context_id=context_id)),
    ]:
        answer = await a2a_util.jsonrpc(url, method, params, headers=bob(keys))
        assert answer.get("error", {}).get("code") == not_found, f"bob's {method}: {answer}"
    answer = await a2a_util.jsonrpc(url, "tasks/get", {"id": task_id}, version=None, headers=bob(keys))
    assert answer["error"]["code"] == not_found, answer
    listed = await a2a_util.jsonrpc(url, "ListTasks", {}, headers=bob(keys))
    assert task_id not in json.dumps(listed), listed

    # Alice continues her task.
    mine = await a2a_util.jsonrpc(url, "GetTask", {"id": task_id}, headers=alice(keys))
    assert mine["result"]["id"] == task_id, mine
    listed = await a2a_util.jsonrpc(url, "ListTasks", {}, headers=alice(keys))
    assert task_id in [t["id"] for t in listed["result"]["tasks"]], listed
    done = await a2a_util.jsonrpc(
        url, "SendMessage", a2a_util.text_message_params("Paris", task_id=task_id, context_id=context_id), headers=alice(keys)
    )
    assert done["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED", done


async def test_push_urls_into_private_networks_are_refused(hub: harness.Hub, keys: dict[str, tuple[str, str]]) -> None:
    url = hub.url("/a2a/ask")
    first = await a2a_util.jsonrpc(url, "SendMessage", a2a_util.text_message_params("trip"), headers=alice(keys))
    task_id = first["result"]["task"]["id"]
    for target in ["http://127.0.0.1:8080/hook", "http://169.254.169.254/latest", "http://10.0.0.7/x", "http://localhost/x"]:
        answer = await a2a_util.jsonrpc(
            url, "CreateTaskPushNotificationConfig", {"taskId": task_id, "url": target}, headers=alice(keys)
        )
        assert answer.get("error", {}).get("code") == -32602, f"{target}: {answer}"
        assert "private or local" in answer["error"]["message"] or "this machine" in answer["error"]["message"], answer
    answer = await a2a_util.jsonrpc(
        url, "CreateTaskPushNotificationConfig", {"taskId": task_id, "url": "https://203.0.113.9/hook"}, headers=alice(keys)
    )
    assert "result" in answer, answer


async def test_denied_agents_are_invisible_and_never_reached(
    hub: harness.Hub, agents: dict[str, a2a_util.Agent], keys: dict[str, tuple[str, str]]
) -> None:
    before = httpx.get(agents["count"].url + "/count").json()["requests"]
    r = httpx.get(hub.url("/a2a/count/.well-known/agent-card.json"), headers=bob(keys))
    assert r.status_code == 404, r.text
    r = httpx.post(
        hub.url("/a2a/count"),
        json={"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": a2a_util.text_message_params("hi")},
        headers={**bob(keys), "A2A-Version": "1.0"},
    )
    assert r.status_code == 404 and "no agent `count`" in r.json()["error"]["message"], r.text
    # A forged key is refused at the edge.
    r = httpx.post(hub.url("/a2a/count"), json={"jsonrpc": "2.0", "id": 1, "method": "SendMessage"}, headers=bearer("amx_" + "A" * 43))
    assert r.status_code == 401, r.text
    assert httpx.get(agents["count"].url + "/count").json()["requests"] == before, "a refused call reached the agent"

    names = {a["name"] for a in httpx.get(hub.url("/a2a"), headers=bob(keys)).json()["agents"]}
    assert names == {"echo", "ask"}, names
    listing = httpx.get(hub.url("/a2a"), headers=alice(keys)).json()["agents"]
    by_name = {a["name"]: a for a in listing}
    assert set(by_name) == {"echo", "stream", "ask", "count", "down"}, by_name
    assert by_name["echo"]["card"] == hub.url("/a2a/echo/.well-known/agent-card.json")
    assert by_name["echo"]["skills"][0]["id"], by_name["echo"]
    assert by_name["down"]["health"] == "failed" and by_name["echo"]["health"] == "ready", by_name

    audit = harness.wait_until(
        lambda: [json.loads(line) for line in (hub.config_path.parent / "audit.log").read_text().splitlines() if '"Agent::' in line],
        10,
        "A2A lines in the audit log",
    )
    denied = [e for e in audit if e["decision"] == "deny" and e["resource"] == 'Agent::"count"']
    assert denied and denied[-1]["principal"]["id"] == "bob", audit[-3:]


async def test_an_agent_that_is_down_fails_alone(hub: harness.Hub, keys: dict[str, tuple[str, str]]) -> None:
    r = httpx.post(
        hub.url("/a2a/down"),
        json={"jsonrpc": "2.0", "id": 7, "method": "SendMessage", "params": a2a_util.text_message_params("hi")},
        headers={**alice(keys), "A2A-Version": "1.0"},
    )
    assert r.status_code == 502, r.text
    error = r.json()["error"]
    assert "agent `down`" in error["message"] and r.json()["id"] == 7, error
    answer = await a2a_util.jsonrpc(hub.url("/a2a/echo"), "SendMessage", a2a_util.text_message_params("still"), headers=alice(keys))
    assert answer["result"]["message"]["parts"][0]["text"] == "echo: still"


async def test_malformed_requests_get_clear_errors(hub: harness.Hub, keys: dict[str, tuple[str, str]]) -> None:
    url = hub.url("/a2a/echo")
    r = httpx.post(url, content=b"{not json", headers={**alice(keys), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == -32700, r.text
    answer: Any = await a2a_util.jsonrpc(url, "tools/call", {}, headers=alice(keys))
    assert answer["error"]["code"] == -32601 and "not an A2A method" in answer["error"]["message"], answer
    answer = await a2a_util.jsonrpc(url, "SendMessage", a2a_util.text_message_params("x"), version="9.9", headers=alice(keys))
    assert answer["error"]["code"] == -32009, answer


async def test_http_json_binding_through_agentmux(hub: harness.Hub, keys: dict[str, tuple[str, str]]) -> None:
    card_url = hub.url("/a2a/echo/.well-known/agent-card.json")
    events = await a2a_util.sdk_send(card_url, "over rest", binding=a2a_util.HTTP_JSON, headers=alice(keys))
    assert events[-1]["message"]["parts"][0]["text"] == "echo: over rest", events

    # Streaming over HTTP+JSON: events arrive one by one, as StreamResponse objects.
    states = []
    async for _, event in a2a_util.sse_stream(
        "POST",
        hub.url("/a2a/stream/message:stream"),
        json_body=a2a_util.text_message_params("go"),
        headers={**alice(keys), "A2A-Version": "1.0"},
    ):
        if "statusUpdate" in event:
            states.append(event["statusUpdate"]["status"]["state"])
    assert states[-1] == "TASK_STATE_COMPLETED", states

    # Tasks stay private over this binding too.
    first = await a2a_util.jsonrpc(hub.url("/a2a/ask"), "SendMessage", a2a_util.text_message_params("trip"), headers=alice(keys))
    task_id = first["result"]["task"]["id"]
    v1 = {"A2A-Version": "1.0"}
    r = httpx.get(hub.url(f"/a2a/ask/tasks/{task_id}"), headers={**bob(keys), **v1})
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND", r.text
    r = httpx.post(hub.url(f"/a2a/ask/tasks/{task_id}:cancel"), headers={**bob(keys), **v1})
    assert r.status_code == 404, r.text
    r = httpx.get(hub.url(f"/a2a/ask/tasks/{task_id}"), headers={**alice(keys), **v1})
    assert r.status_code == 200 and r.json()["id"] == task_id, r.text
    r = httpx.get(hub.url("/a2a/ask/tasks"), headers={**bob(keys), **v1})
    assert r.status_code == 200 and task_id not in r.text, r.text
    r = httpx.post(
        hub.url(f"/a2a/ask/tasks/{task_id}/pushNotificationConfigs"),
        json={"url": "http://169.254.169.254/"},
        headers={**alice(keys), **v1},
    )
    assert r.status_code == 400 and "private or local" in r.text, r.text
    r = httpx.get(hub.url("/a2a/echo/admin/reset"), headers={**alice(keys), **v1})
    assert r.status_code == 404 and "not an A2A HTTP+JSON operation" in r.text, r.text


def test_policy_test_takes_a2a_cases(hub: harness.Hub, tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        """
cases:
  - name: planners may message any agent
    principal: { type: ApiKey, id: alice, groups: [planners] }
    action: send_message
    resource: { agent: count, skills: [count] }
    context: { method: message/send, version: "0.3" }
    expect: allow
  - name: outsiders may not message the counting agent
    principal: { type: ApiKey, id: bob, groups: [outsiders] }
    action: send_message
    resource: { agent: count }
    expect: deny
  - name: outsiders may read echo's card
    principal: { type: ApiKey, id: bob, groups: [outsiders] }
    action: read_card
    resource: { agent: echo }
    expect: allow
"""
    )
    binary = harness.require_binary(harness.AGENTMUX_BIN, "agentmux")
    out = subprocess.run(
        [binary, "policy", "test", "--config", hub.config_path, cases], capture_output=True, text=True, cwd=hub.config_path.parent
    )
    assert out.returncode == 0 and "3 passed, 0 failed" in out.stdout, out.stdout + out.stderr
