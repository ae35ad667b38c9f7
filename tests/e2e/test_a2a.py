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
import anyio
import harness
import httpx
import httpx2
import pytest
from mcp.client.streamable_http import streamable_http_client
from mcp_util import MODES, all_tools, client, texts

pytestmark = pytest.mark.anyio




def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, a2a_util.Agent]]:
    logs = tmp_path_factory.mktemp("a2a-agents")
    started: dict[str, a2a_util.Agent] = {}
    try:
        for name, mode, bindings in [("rpconly", "input", ("jsonrpc",)), ("restonly", "input", ("rest",))]:
            started[name] = a2a_util.start_agent(mode, name=name, log_dir=logs, bindings=bindings, extra_args=["--no-v03"])
        for name, mode, extra in [
            ("echo", "echo", []),
            ("stream", "stream", ["--delay", "0.3"]),
            ("ask", "input", []),
            ("count", "count", []),
            ("fail", "fail", []),
            ("slow", "slow", ["--steps", "60", "--delay", "0.25"]),
        ]:
            started[name] = a2a_util.start_agent(mode, name=name, log_dir=logs, extra_args=extra)
        yield started
    finally:
        for agent in started.values():
            agent.stop()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("a2a-keys")
    return {"alice": harness.new_key(tmp, "alice", "planners"), "bob": harness.new_key(tmp, "bob", "outsiders")}


POLICIES = """
// Planners may do anything with every agent.
permit(principal in Group::"planners", action, resource is Agent);
// Planners may call every agent's skills as MCP tools; outsiders only `ask`'s.
permit(principal in Group::"planners", action == Action::"call_tool", resource);
permit(principal in Group::"outsiders", action == Action::"call_tool", resource in Upstream::"ask");
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
    assert set(by_name) == {"echo", "stream", "ask", "count", "fail", "slow", "rpconly", "restonly", "down"}, by_name
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
    # Two push URLs under one key: parsers disagree on which wins, so neither is taken.
    twice = (
        '{"jsonrpc":"2.0","id":3,"method":"CreateTaskPushNotificationConfig","params":'
        '{"taskId":"t","url":"https://203.0.113.9/h","url":"http://169.254.169.254/"}}'
    )
    r = httpx.post(url, content=twice, headers={**alice(keys), "A2A-Version": "1.0", "Content-Type": "application/json"})
    assert r.json()["error"]["code"] == -32602 and "duplicate key `url`" in r.json()["error"]["message"], r.text
    # A task id that is not a string is refused, not left unchecked.
    params = a2a_util.text_message_params("x")
    params["message"]["taskId"] = 12345
    answer = await a2a_util.jsonrpc(url, "SendMessage", params, headers=bob(keys))
    assert answer["error"]["code"] == -32602 and "`message.taskId` must be a string" in answer["error"]["message"], answer
    r = httpx.request("DELETE", url + "/tasks/t1/pushNotificationConfigs/%2E%2E", headers={**alice(keys), "A2A-Version": "1.0"})
    assert r.status_code == 404 and "not an A2A HTTP+JSON operation" in r.text, r.text


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


@pytest.mark.parametrize(
    ("group", "agent", "decision"),
    [("outsiders", "echo", "allow"), ("outsiders", "count", "deny"), ("planners", "count", "allow")],
)
def test_policy_explain_takes_a2a_requests(hub: harness.Hub, group: str, agent: str, decision: str) -> None:
    binary = harness.require_binary(harness.AGENTMUX_BIN, "agentmux")
    argv = [binary, "policy", "explain", "--config", hub.config_path, "--principal", 'ApiKey::"k"', "--group", group]
    argv += ["--action", "send_message", "--resource", agent, "--skill", "echo", "--method", "message/send", "--version", "0.3"]
    out = subprocess.run(argv, capture_output=True, text=True, cwd=hub.config_path.parent)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.lower().startswith(decision), out.stdout


async def test_metrics_and_the_start_summary_show_agents(hub: harness.Hub, keys: dict[str, tuple[str, str]]) -> None:
    await a2a_util.jsonrpc(hub.url("/a2a/echo"), "SendMessage", a2a_util.text_message_params("m"), headers=alice(keys))
    denied = httpx.post(
        hub.url("/a2a/count"),
        json={"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": a2a_util.text_message_params("m")},
        headers={**bob(keys), "A2A-Version": "1.0"},
    )
    assert denied.status_code == 404, denied.text
    metrics = httpx.get(hub.url("/metrics")).text
    assert 'agentmux_a2a_requests_total{agent="echo",method="SendMessage",outcome="ok"}' in metrics, metrics[-2000:]
    assert 'agentmux_a2a_requests_total{agent="count",method="SendMessage",outcome="denied"}' in metrics
    assert 'agentmux_upstream_up{upstream="echo"} 1' in metrics
    assert 'agentmux_upstream_up{upstream="down"} 0' in metrics
    log = hub.proc.stderr_path.read_text()
    # Readiness waits for required agents only: `down` may still be connecting when it is printed.
    assert re.search(r"echo\s+connected \(a2a\): 1 tools", log), log[-2000:]
    assert re.search(r"down\s+(FAILED \(a2a\): |connecting \(a2a\))", log), log[-2000:]


# === agents' skills as MCP tools ===


def mcp_as(hub: harness.Hub, key: str, mode: str) -> Any:
    """An MCP client of `/mcp` with an API key."""
    http = httpx2.AsyncClient(headers=bearer(key), timeout=30)
    return client(streamable_http_client(hub.url("/mcp"), http_client=http), mode)


@pytest.mark.parametrize("mode", MODES)
async def test_skills_are_mcp_tools_that_stream_progress_and_continue_tasks(
    hub: harness.Hub, keys: dict[str, tuple[str, str]], mode: str
) -> None:
    async with mcp_as(hub, keys["alice"][0], mode) as c:
        tools = {t.name: t for t in await all_tools(c)}
        assert {"echo__echo", "stream__steps", "ask__book-trip", "fail__refuse"} <= set(tools), sorted(tools)
        book = tools["ask__book-trip"]
        assert "Examples:" in (book.description or "") and book.input_schema["required"] == ["message"], book

        # A streaming agent: each status text is a progress notification, the artifact chunks
        # are the content.
        said: list[str | None] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            said.append(message)

        result = await c.call_tool("stream__steps", {"message": "go"}, progress_callback=on_progress)
        assert not result.is_error, result
        assert texts(result) == ["chunk 1", "chunk 2", "chunk 3"], result
        assert result.structured_content["state"] == "completed", result
        assert [m for m in said if m and m.startswith("step")] == ["step 1", "step 2", "step 3"], said

        # A message answer with a data part: structured content and a JSON text block.
        echoed = await c.call_tool("echo__echo", {"message": "hi", "data": {"n": 2}})
        assert texts(echoed)[0] == "echo: hi" and echoed.structured_content["data"] == [{"n": 2}], echoed

        # input-required: the question and the task id; the next call continues the task.
        first = await c.call_tool("ask__book-trip", {"message": "book a trip"})
        assert "Which city?" in texts(first)[0] and first.structured_content["state"] == "input-required", first
        task_id = first.structured_content["taskId"]
        done = await c.call_tool("ask__book-trip", {"message": "Paris", "task_id": task_id})
        assert texts(done) == ["booked Paris"] and done.structured_content["state"] == "completed", done

        failed = await c.call_tool("fail__refuse", {"message": "please"})
        assert failed.is_error and texts(failed)[0] == "cannot do that", failed

    # The task is alice's: bob may call the tool, not continue her task.
    first_task = first.structured_content["taskId"]
    async with mcp_as(hub, keys["bob"][0], mode) as c:
        names = {t.name for t in await all_tools(c)}
        assert names == {"ask__book-trip"}, names
        stolen = await c.call_tool("ask__book-trip", {"message": "Rome", "task_id": first_task})
        assert stolen.is_error and "not found" in texts(stolen)[0], stolen


async def test_cancelling_the_mcp_call_cancels_the_task(
    hub: harness.Hub, agents: dict[str, a2a_util.Agent], keys: dict[str, tuple[str, str]]
) -> None:
    started = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        started.set()

    async with mcp_as(hub, keys["alice"][0], "legacy") as c:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await c.call_tool("slow__long-job", {"message": "start"}, progress_callback=on_progress)

            tg.start_soon(call)
            with anyio.fail_after(20):
                await started.wait()
            # Cancelling the task group cancels the request: the client sends
            # notifications/cancelled.
            tg.cancel_scope.cancel()
    cancelled = harness.wait_until(
        lambda: httpx.get(agents["slow"].url + "/cancelled").json()["tasks"] or None, 15, "the agent to see its task cancelled"
    )
    assert cancelled, cancelled


async def test_either_binding_reaches_an_agent_that_serves_only_the_other(
    hub: harness.Hub, agents: dict[str, a2a_util.Agent], keys: dict[str, tuple[str, str]]
) -> None:
    v1 = {**alice(keys), "A2A-Version": "1.0"}
    for name, served in [("rpconly", "JSONRPC"), ("restonly", "HTTP+JSON")]:
        card = httpx.get(hub.url(f"/a2a/{name}/.well-known/agent-card.json"), headers=alice(keys)).json()
        bindings = sorted(i["protocolBinding"] for i in card["supportedInterfaces"])
        assert bindings == ["HTTP+JSON", "JSONRPC"], f"{name} is offered in both bindings: {card}"

    # HTTP+JSON to an agent that speaks only JSON-RPC.
    r = httpx.post(hub.url("/a2a/rpconly/message:send"), json=a2a_util.text_message_params("book"), headers=v1)
    assert r.status_code == 200, r.text
    task = r.json()["task"]
    assert task["status"]["state"] == "TASK_STATE_INPUT_REQUIRED", task
    r = httpx.get(hub.url(f"/a2a/rpconly/tasks/{task['id']}"), params={"historyLength": 1}, headers=v1)
    assert r.status_code == 200 and r.json()["id"] == task["id"], r.text
    assert httpx.get(agents["rpconly"].url + "/last-headers").json().get("path", "/") == "/", "it went to JSON-RPC"
    r = httpx.post(hub.url(f"/a2a/rpconly/tasks/{task['id']}:cancel"), headers=v1)
    assert r.status_code == 200 and r.json()["status"]["state"] == "TASK_STATE_CANCELED", r.text
    # The agent's JSON-RPC error comes back as an HTTP+JSON one.
    r = httpx.post(hub.url(f"/a2a/rpconly/tasks/{task['id']}:cancel"), headers=v1)
    assert r.status_code == 400 and r.json()["error"]["status"] == "FAILED_PRECONDITION", r.text

    # JSON-RPC to an agent that speaks only HTTP+JSON.
    url = hub.url("/a2a/restonly")
    first = await a2a_util.jsonrpc(url, "SendMessage", a2a_util.text_message_params("book"), headers=alice(keys), request_id="r-1")
    assert first["id"] == "r-1" and first["result"]["task"]["status"]["state"] == "TASK_STATE_INPUT_REQUIRED", first
    task_id = first["result"]["task"]["id"]
    got = await a2a_util.jsonrpc(url, "GetTask", {"id": task_id}, headers=alice(keys))
    assert got["result"]["id"] == task_id, got
    listed = await a2a_util.jsonrpc(url, "ListTasks", {"pageSize": 10}, headers=alice(keys))
    assert task_id in [t["id"] for t in listed["result"]["tasks"]], listed
    states = []
    async for _, frame in a2a_util.jsonrpc_stream(
        url, "SendStreamingMessage", a2a_util.text_message_params("Paris", task_id=task_id), headers=alice(keys)
    ):
        result = frame["result"]
        states.append((result.get("statusUpdate") or result.get("task") or {}).get("status", {}).get("state"))
    assert states[-1] == "TASK_STATE_COMPLETED", states
    # Push configs, both ways: created, read, listed and deleted through the other binding.
    # (The task is finished, so the agent never calls the URL.)
    created = await a2a_util.jsonrpc(
        url, "CreateTaskPushNotificationConfig", {"taskId": task_id, "id": "p1", "url": "https://203.0.113.9/h"}, headers=alice(keys)
    )
    assert created["result"]["url"] == "https://203.0.113.9/h" and created["result"]["taskId"] == task_id, created
    got = await a2a_util.jsonrpc(url, "GetTaskPushNotificationConfig", {"taskId": task_id, "id": "p1"}, headers=alice(keys))
    assert got["result"]["id"] == "p1", got
    listed = await a2a_util.jsonrpc(url, "ListTaskPushNotificationConfigs", {"taskId": task_id}, headers=alice(keys))
    assert [c["id"] for c in listed["result"]["configs"]] == ["p1"], listed
    assert httpx.get(agents["restonly"].url + "/last-headers").json()["path"].endswith("/pushNotificationConfigs"), "HTTP+JSON"
    deleted = await a2a_util.jsonrpc(url, "DeleteTaskPushNotificationConfig", {"taskId": task_id, "id": "p1"}, headers=alice(keys))
    assert "error" not in deleted, deleted
    listed = await a2a_util.jsonrpc(url, "ListTaskPushNotificationConfigs", {"taskId": task_id}, headers=alice(keys))
    assert listed["result"].get("configs", []) == [], listed

    rpc_task = task["id"]
    configs = hub.url(f"/a2a/rpconly/tasks/{rpc_task}/pushNotificationConfigs")
    r = httpx.post(configs, json={"id": "p2", "url": "https://203.0.113.9/h", "taskId": "not-this-one"}, headers=v1)
    assert r.status_code == 200 and r.json()["taskId"] == rpc_task, r.text
    r = httpx.get(configs + "/p2", headers=v1)
    assert r.status_code == 200 and r.json()["id"] == "p2", r.text
    r = httpx.get(configs, headers=v1)
    assert r.status_code == 200 and [c["id"] for c in r.json()["configs"]] == ["p2"], r.text
    r = httpx.delete(configs + "/p2", headers=v1)
    assert r.status_code == 200 and r.json() == {}, r.text
    r = httpx.get(configs + "/p2", headers=v1)
    assert r.status_code == 404, r.text
