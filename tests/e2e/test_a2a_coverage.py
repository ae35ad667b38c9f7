"""A2A router behaviour that test_a2a.py leaves out, against real a2a-sdk agents
(fixtures/a2a/agent.py) through agentmux: push-notification configs in both versions and both
bindings (and that the agent really calls an allowed URL), extended cards, resubscribing to a
running task, how served cards are written (signatures, public URL, trusted proxies, the v0.2
path), agents' skills as renamed and filtered MCP tools with file parts, cards read again when
they change or when an agent comes up late, and the audit lines of A2A calls. Also the holes these tests found, closed: task ids and push URLs
under proto field names (`task_id`), v0.3 cards' security, agents' file URLs.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import a2a_util
import anyio
import harness
import httpx
import pytest
from mcp import types as mcp_types
from mcp.shared.exceptions import MCPError
from mcp_util import MODES, all_tools, client, texts

# Shared with test_a2a: keys made by `agentmux key new`, and an MCP client of /mcp with a key.
from test_a2a import bearer, mcp_as

pytestmark = pytest.mark.anyio

NOT_FOUND = -32001
INVALID_PARAMS = -32602
V1 = {"A2A-Version": "1.0"}
AUDIT_LOG = "audit.log"
# How long agentmux may take to write an audit line (written in batches) or to notice a change.
WITHIN_S = 10.0
# The fixture agent's constants (fixtures/a2a/agent.py).
EXTENDED_SKILL = "extended-only"
EXTENDED_SCHEME = "fixture-internal"
FAKE_SIGNATURE = {"protected": "eyJhbGciOiJFUzI1NiIsImtpZCI6ImZpeHR1cmUifQ", "signature": "ZmFrZS1zaWduYXR1cmUtZm9yLXRlc3Rz"}
FILE_BYTES = b"hello from a file part\n"
FILE_URL = "https://files.example.com/reports/report.pdf"
# The served card's security when agentmux has `auth:` (src/a2a/mod.rs).
# agentmux's scheme in both versions' words (v1.0 reads the first key, v0.3 the others).
AGENTMUX_SCHEMES = {"agentmux": {"httpAuthSecurityScheme": {"scheme": "bearer"}, "type": "http", "scheme": "bearer"}}
# A public address an agent may be asked to call (TEST-NET-3, never contacted here).
PUBLIC_HOOK = "https://203.0.113.9/hook"


# === fixtures ===


@dataclass
class Env:
    hub: harness.Hub
    agents: dict[str, a2a_util.Agent]
    keys: dict[str, tuple[str, str]]
    # Push receivers on 127.0.0.1 (in a2a.push_allow) and 127.0.0.2 (loopback, not allowed).
    allowed: a2a_util.PushReceiver
    refused: a2a_util.PushReceiver

    def alice(self) -> dict[str, str]:
        return bearer(self.keys["alice"][0])

    def bob(self) -> dict[str, str]:
        return bearer(self.keys["bob"][0])

    def url(self, agent: str, rest: str = "") -> str:
        return self.hub.url(f"/a2a/{agent}{rest}")

    def audit(self) -> list[dict[str, Any]]:
        path = self.hub.config_path.parent / AUDIT_LOG
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


POLICIES = """
// Planners may do anything with every agent, and call every skill as a tool.
permit(principal in Group::"planners", action, resource is Agent);
permit(principal in Group::"planners", action == Action::"call_tool", resource);
// Outsiders may use `ask` and `slow` fully: what keeps them from a planner's tasks there is
// task ownership, not a policy.
permit(principal in Group::"outsiders", action in [Action::"send_message", Action::"read_task", Action::"cancel_task", Action::"configure_push", Action::"read_card"], resource)
when { resource is Agent && (resource == Agent::"ask" || resource == Agent::"slow") };
// They may message `ext`, but not read its cards (the extended one included).
permit(principal in Group::"outsiders", action == Action::"send_message", resource == Agent::"ext");
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    keys_dir = tmp_path_factory.mktemp("a2a-cov-keys")
    keys = {"alice": harness.new_key(keys_dir, "alice", "planners"), "bob": harness.new_key(keys_dir, "bob", "outsiders")}
    agents = a2a_util.start_agents(
        {
            "ask": ("input", {}),
            "rpcask": ("input", {"bindings": ("jsonrpc",), "extra_args": ["--no-v03"]}),
            # 300 steps of 0.1 s: running for the whole module unless cancelled.
            "slow": ("slow", {"extra_args": ["--steps", "300", "--delay", "0.1"]}),
            "ext": ("echo", {"extra_args": ["--extended-card"]}),
            "signed": ("echo", {"extra_args": ["--signed"]}),
            "multi": ("count", {}),
            "files": ("file", {}),
        },
        tmp_path_factory.mktemp("a2a-cov-agents"),
    )
    allowed, refused = a2a_util.PushReceiver("127.0.0.1"), a2a_util.PushReceiver("127.0.0.2")
    hub = None
    try:
        config_dir = tmp_path_factory.mktemp("a2a-cov-hub")
        (config_dir / "policies").mkdir()
        (config_dir / "policies" / "a2a.cedar").write_text(POLICIES)
        registry: dict[str, Any] = {name: {"a2a": {"url": agent.url}} for name, agent in agents.items()}
        # One agent, two entries: the card served as signed, and rewritten.
        registry["signed-keep"] = {"a2a": {"url": agents["signed"].url, "signatures": "keep"}}
        # One agent (skills `echo` and `count`), two ways of offering its skills as tools.
        registry["multi"]["tools"] = {"exclude": ["count"], "rename": {"echo": "say"}}
        registry["tally"] = {"a2a": {"url": agents["multi"].url}, "tools": {"include": ["cou*"], "rename": {"count": "tally"}}}
        settings = {
            "auth": {
                "api_keys": [
                    {"name": name, "hash": digest, "groups": ["planners" if name == "alice" else "outsiders"]}
                    for name, (_, digest) in keys.items()
                ]
            },
            "policies": "policies/",
            "audit": {"sink": AUDIT_LOG},
            "a2a": {"push_allow": ["127.0.0.1/32"]},
        }
        hub = harness.start_hub(config_dir, registry, name="agentmux-a2a-coverage", settings=settings)
        yield Env(hub, agents, keys, allowed, refused)
    finally:
        if hub is not None:
            hub.stop()
        for agent in agents.values():
            agent.stop()
        allowed.close()
        refused.close()


def post_rpc(url: str, method: str, params: Any, headers: dict[str, str], *, version: str | None = "1.0", request_id: int = 1) -> httpx.Response:
    """A JSON-RPC request whatever its HTTP status (a2a_util.jsonrpc wants 200)."""
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    return httpx.post(url, json=body, headers={**headers, **({"A2A-Version": version} if version else {})}, timeout=a2a_util.READ_TIMEOUT_S)


async def new_task(env: Env, agent: str = "ask", *, v03: bool = False, immediately: bool = False) -> str:
    """A task of alice's at `agent` (at `ask`: waiting for input), created in v1.0 or v0.3; with
    `immediately`, answered while it still runs."""
    params = a2a_util.text_message_params("book a trip", v03=v03)
    if immediately:
        params["configuration"] = {"blocking": False} if v03 else {"returnImmediately": True}
    answer = await a2a_util.jsonrpc(env.url(agent), "message/send" if v03 else "SendMessage", params, version=None if v03 else "1.0", headers=env.alice())
    task = answer["result"] if v03 else answer["result"]["task"]
    return task["id"]


def rpc_error(answer: dict[str, Any]) -> int | None:
    return answer.get("error", {}).get("code")


# === 1. push-notification configs ===


async def test_push_configs_v1_jsonrpc(env: Env) -> None:
    url, task = env.url("ask"), await new_task(env)
    hook = env.allowed.url + f"/v1/{task}"
    created = await a2a_util.jsonrpc(
        url, "CreateTaskPushNotificationConfig", {"taskId": task, "id": "cfg-1", "url": hook, "token": "tok-1"}, headers=env.alice()
    )
    assert created.get("result", {}).get("url") == hook and created["result"]["id"] == "cfg-1", f"a push_allow'ed loopback URL: {created}"
    got = await a2a_util.jsonrpc(url, "GetTaskPushNotificationConfig", {"taskId": task, "id": "cfg-1"}, headers=env.alice())
    assert got["result"]["url"] == hook and got["result"]["taskId"] == task, got
    listed = await a2a_util.jsonrpc(url, "ListTaskPushNotificationConfigs", {"taskId": task}, headers=env.alice())
    assert [c["id"] for c in listed["result"]["configs"]] == ["cfg-1"], listed

    # Another principal, allowed every push method on `ask` by the policies, finds no task.
    for method, params in [
        ("CreateTaskPushNotificationConfig", {"taskId": task, "url": PUBLIC_HOOK}),
        ("GetTaskPushNotificationConfig", {"taskId": task, "id": "cfg-1"}),
        ("ListTaskPushNotificationConfigs", {"taskId": task}),
        ("DeleteTaskPushNotificationConfig", {"taskId": task, "id": "cfg-1"}),
    ]:
        answer = await a2a_util.jsonrpc(url, method, params, headers=env.bob())
        assert rpc_error(answer) == NOT_FOUND, f"bob's {method}: {answer}"
    # A URL into a private network (or loopback outside push_allow) is refused, naming it.
    for private in ["http://10.20.30.40/hook", env.refused.url + "/hook", "http://[::1]:9/hook"]:
        answer = await a2a_util.jsonrpc(url, "CreateTaskPushNotificationConfig", {"taskId": task, "url": private}, headers=env.alice())
        assert rpc_error(answer) == INVALID_PARAMS and "private or local" in answer["error"]["message"], f"{private}: {answer}"

    # The agent calls the URL registered through agentmux when the task moves on.
    done = await a2a_util.jsonrpc(url, "SendMessage", a2a_util.text_message_params("Paris", task_id=task), headers=env.alice())
    assert done["result"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED", done
    posts = harness.wait_until(lambda: env.allowed.received(f"/v1/{task}"), WITHIN_S, "the agent's push notification")
    assert posts[0]["headers"].get("x-a2a-notification-token") == "tok-1", posts[0]
    assert task in json.dumps(posts[-1]["body"]), posts[-1]

    # Bob's delete did not reach it; alice's does.
    still = await a2a_util.jsonrpc(url, "ListTaskPushNotificationConfigs", {"taskId": task}, headers=env.alice())
    assert [c["id"] for c in still["result"]["configs"]] == ["cfg-1"], still
    deleted = await a2a_util.jsonrpc(url, "DeleteTaskPushNotificationConfig", {"taskId": task, "id": "cfg-1"}, headers=env.alice())
    assert "error" not in deleted, deleted
    empty = await a2a_util.jsonrpc(url, "ListTaskPushNotificationConfigs", {"taskId": task}, headers=env.alice())
    assert empty["result"].get("configs", []) == [], empty


async def test_push_configs_v03_jsonrpc(env: Env) -> None:
    url, task = env.url("ask"), await new_task(env, v03=True)
    hook = env.allowed.url + f"/v03/{task}"

    async def v03(method: str, params: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        return await a2a_util.jsonrpc(url, method, params, version=None, headers=headers)

    set_params = {"taskId": task, "pushNotificationConfig": {"id": "cfg-03", "url": hook, "token": "tok-03"}}
    created = await v03("tasks/pushNotificationConfig/set", set_params, env.alice())
    assert created.get("result", {}).get("pushNotificationConfig", {}).get("url") == hook, created
    got = await v03("tasks/pushNotificationConfig/get", {"id": task, "pushNotificationConfigId": "cfg-03"}, env.alice())
    assert got["result"]["taskId"] == task and got["result"]["pushNotificationConfig"]["id"] == "cfg-03", got
    listed = await v03("tasks/pushNotificationConfig/list", {"id": task}, env.alice())
    assert [c["pushNotificationConfig"]["id"] for c in listed["result"]] == ["cfg-03"], listed

    for method, params in [
        ("tasks/pushNotificationConfig/set", {"taskId": task, "pushNotificationConfig": {"url": PUBLIC_HOOK}}),
        ("tasks/pushNotificationConfig/get", {"id": task, "pushNotificationConfigId": "cfg-03"}),
        ("tasks/pushNotificationConfig/list", {"id": task}),
        ("tasks/pushNotificationConfig/delete", {"id": task, "pushNotificationConfigId": "cfg-03"}),
    ]:
        answer = await v03(method, params, env.bob())
        assert rpc_error(answer) == NOT_FOUND, f"bob's {method}: {answer}"
    for private in ["http://192.168.1.1/hook", "http://169.254.169.254/latest/meta-data", env.refused.url + "/hook"]:
        answer = await v03("tasks/pushNotificationConfig/set", {"taskId": task, "pushNotificationConfig": {"url": private}}, env.alice())
        assert rpc_error(answer) == INVALID_PARAMS and "private or local" in answer["error"]["message"], f"{private}: {answer}"

    done = await v03("message/send", a2a_util.text_message_params("Rome", task_id=task, v03=True), env.alice())
    assert done["result"]["status"]["state"] == "completed", done
    posts = harness.wait_until(lambda: env.allowed.received(f"/v03/{task}"), WITHIN_S, "the agent's push notification")
    assert posts[0]["headers"].get("x-a2a-notification-token") == "tok-03", posts[0]

    deleted = await v03("tasks/pushNotificationConfig/delete", {"id": task, "pushNotificationConfigId": "cfg-03"}, env.alice())
    assert "error" not in deleted, deleted
    empty = await v03("tasks/pushNotificationConfig/list", {"id": task}, env.alice())
    assert empty["result"] == [], empty


async def test_push_configs_http_json(env: Env) -> None:
    task = await new_task(env)
    configs = env.url("ask", f"/tasks/{task}/pushNotificationConfigs")
    hook = env.allowed.url + f"/rest/{task}"
    alice, bob = {**env.alice(), **V1}, {**env.bob(), **V1}
    r = httpx.post(configs, json={"id": "cfg-r", "url": hook}, headers=alice)
    assert r.status_code == 200 and r.json()["url"] == hook and r.json()["taskId"] == task, r.text
    r = httpx.get(configs + "/cfg-r", headers=alice)
    assert r.status_code == 200 and r.json()["id"] == "cfg-r", r.text
    r = httpx.get(configs, headers=alice)
    assert r.status_code == 200 and [c["id"] for c in r.json()["configs"]] == ["cfg-r"], r.text

    for verb, path, body in [
        ("POST", "", {"url": PUBLIC_HOOK}),
        ("GET", "/cfg-r", None),
        ("GET", "", None),
        ("DELETE", "/cfg-r", None),
    ]:
        r = httpx.request(verb, configs + path, json=body, headers=bob)
        assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND", f"bob's {verb} {path}: {r.status_code} {r.text}"
    r = httpx.post(configs, json={"url": "http://172.16.0.1/hook"}, headers=alice)
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT" and "private or local" in r.text, r.text

    r = httpx.request("DELETE", configs + "/cfg-r", headers=alice)
    assert r.status_code == 200, r.text
    r = httpx.get(configs, headers=alice)
    assert r.status_code == 200 and r.json().get("configs", []) == [], r.text


async def test_push_configs_http_json_to_a_jsonrpc_only_agent(env: Env) -> None:
    # agentmux translates the HTTP+JSON push-config paths into the JSON-RPC methods the agent serves.
    task = await new_task(env, "rpcask")
    configs = env.url("rpcask", f"/tasks/{task}/pushNotificationConfigs")
    hook = f"/translated/{task}"
    alice, bob = {**env.alice(), **V1}, {**env.bob(), **V1}
    r = httpx.post(configs, json={"id": "cfg-t", "url": env.allowed.url + hook, "token": "tok-t"}, headers=alice)
    assert r.status_code == 200 and r.json()["id"] == "cfg-t" and r.json()["taskId"] == task, f"{r.status_code} {r.text}"
    assert httpx.get(env.agents["rpcask"].url + "/last-headers").json()["path"] == "/", "it reached the agent as JSON-RPC"
    r = httpx.get(configs + "/cfg-t", headers=alice)
    assert r.status_code == 200 and r.json()["url"] == env.allowed.url + hook, r.text
    r = httpx.get(configs, headers=alice)
    assert r.status_code == 200 and [c["id"] for c in r.json()["configs"]] == ["cfg-t"], r.text
    r = httpx.get(configs + "/cfg-t", headers=bob)
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND", r.text
    r = httpx.post(configs, json={"url": "http://10.9.8.7/hook"}, headers=alice)
    assert r.status_code == 400 and "private or local" in r.text, r.text

    r = httpx.post(env.url("rpcask", "/message:send"), json=a2a_util.text_message_params("Oslo", task_id=task), headers=alice)
    assert r.status_code == 200 and r.json()["task"]["status"]["state"] == "TASK_STATE_COMPLETED", r.text
    posts = harness.wait_until(lambda: env.allowed.received(hook), WITHIN_S, "the agent's push notification")
    assert posts[0]["headers"].get("x-a2a-notification-token") == "tok-t", posts[0]

    r = httpx.request("DELETE", configs + "/cfg-t", headers=alice)
    assert r.status_code == 200, r.text
    r = httpx.get(configs, headers=alice)
    assert r.status_code == 200 and r.json().get("configs", []) == [], r.text


async def test_push_urls_under_proto_field_names_are_checked_too(env: Env) -> None:
    url = env.url("ask")
    camel = a2a_util.text_message_params("book a trip")
    camel["configuration"] = {"taskPushNotificationConfig": {"url": env.refused.url + "/camel"}}
    answer = await a2a_util.jsonrpc(url, "SendMessage", camel, headers=env.alice())
    assert rpc_error(answer) == INVALID_PARAMS, f"the camelCase spelling is checked: {answer}"

    # The agent reads the proto field name as well: the same URL under it must be refused too.
    snake = a2a_util.text_message_params("book a trip")
    snake["configuration"] = {"task_push_notification_config": {"url": env.refused.url + "/snake"}}
    answer = await a2a_util.jsonrpc(url, "SendMessage", snake, headers=env.alice())
    if "result" in answer:
        # Taken: when the task moves on, the agent calls the refused address.
        task = answer["result"]["task"]["id"]
        await a2a_util.jsonrpc(url, "SendMessage", a2a_util.text_message_params("Paris", task_id=task), headers=env.alice())
        harness.wait_until(lambda: env.refused.received("/snake"), WITHIN_S, "the agent to call the URL agentmux let through")
    assert rpc_error(answer) == INVALID_PARAMS and not env.refused.received("/snake"), (
        f"a loopback URL outside push_allow reached the agent, which called it {len(env.refused.received('/snake'))} times: {answer}"
    )


async def test_task_ids_under_proto_field_names_are_checked_too(env: Env) -> None:
    url, task = env.url("ask"), await new_task(env)
    hooks = f"/owner/{task}"
    mine = await a2a_util.jsonrpc(
        url, "CreateTaskPushNotificationConfig", {"taskId": task, "id": "alice-cfg", "url": env.allowed.url + hooks + "/alice"}, headers=env.alice()
    )
    assert "result" in mine, mine

    # Bob names alice's task as `task_id` (a name the agent's parser also reads): each request is
    # refused for its proto field name before anything is decided on it, and none changes her task.
    theirs = await a2a_util.jsonrpc(url, "CreateTaskPushNotificationConfig", {"task_id": task, "id": "bob-cfg", "url": env.allowed.url + hooks + "/bob"}, headers=env.bob())
    deleted = await a2a_util.jsonrpc(url, "DeleteTaskPushNotificationConfig", {"task_id": task, "id": "alice-cfg"}, headers=env.bob())
    params = a2a_util.text_message_params("Rome")
    params["message"]["task_id"] = task
    sent = await a2a_util.jsonrpc(url, "SendMessage", params, headers=env.bob())

    configs = await a2a_util.jsonrpc(url, "ListTaskPushNotificationConfigs", {"taskId": task}, headers=env.alice())
    state = (await a2a_util.jsonrpc(url, "GetTask", {"id": task}, headers=env.alice()))["result"]["status"]["state"]
    assert [c["id"] for c in configs["result"].get("configs", [])] == ["alice-cfg"], f"bob changed alice's push configs: {configs}"
    assert state == "TASK_STATE_INPUT_REQUIRED", f"bob's message continued alice's task (now {state}): {sent}"
    assert not env.allowed.received(hooks + "/bob"), "bob's URL hears of alice's task"
    assert [rpc_error(a) for a in (theirs, deleted, sent)] == [INVALID_PARAMS] * 3, (theirs, deleted, sent)
    assert all("task_id" in a["error"]["message"] for a in (theirs, deleted, sent)), (theirs, deleted, sent)


# === 2. extended cards ===


def assert_rewritten(card: dict[str, Any], url: str, agent_port: int) -> None:
    """Every interface of a served (v1.0 and v0.3) card at `url`, agentmux's security only."""
    interfaces = card.get("supportedInterfaces", []) + card.get("additionalInterfaces", [])
    assert interfaces, card
    assert {i["url"] for i in interfaces} | ({card["url"]} if "url" in card else set()) == {url}, card
    assert f":{agent_port}" not in json.dumps(card), f"the card points at the agent itself: {card}"
    assert EXTENDED_SCHEME not in json.dumps(card), f"the agent's own security scheme is served: {card}"
    assert card.get("securitySchemes") == AGENTMUX_SCHEMES, card


async def test_extended_card_v1_both_bindings(env: Env) -> None:
    url, port = env.url("ext"), env.agents["ext"].port
    answer = await a2a_util.jsonrpc(url, "GetExtendedAgentCard", {}, headers=env.alice())
    card = answer["result"]
    assert EXTENDED_SKILL in [s["id"] for s in card["skills"]], f"not the extended card: {card}"
    assert_rewritten(card, url, port)
    assert card["securityRequirements"] == [{"schemes": {"agentmux": {"list": []}}}], card
    assert card["capabilities"]["extendedAgentCard"] is True, "capabilities are kept"

    r = httpx.get(env.url("ext", "/extendedAgentCard"), headers={**env.alice(), **V1})
    assert r.status_code == 200, r.text
    assert EXTENDED_SKILL in [s["id"] for s in r.json()["skills"]], r.text
    assert_rewritten(r.json(), url, port)

    # Bob may message `ext`, not read its cards: the extended card is as absent as the agent.
    r = post_rpc(url, "GetExtendedAgentCard", {}, env.bob())
    assert r.status_code == 404 and "no agent `ext`" in r.json()["error"]["message"], r.text
    r = httpx.get(env.url("ext", "/extendedAgentCard"), headers={**env.bob(), **V1})
    assert r.status_code == 404 and EXTENDED_SKILL not in r.text, r.text
    answer = await a2a_util.jsonrpc(url, "SendMessage", a2a_util.text_message_params("hi"), headers=env.bob())
    assert answer["result"]["message"]["parts"][0]["text"] == "echo: hi", answer


async def test_extended_card_v03_both_bindings(env: Env) -> None:
    url, port = env.url("ext"), env.agents["ext"].port
    answer = await a2a_util.jsonrpc(url, "agent/getAuthenticatedExtendedCard", {}, version=None, headers=env.alice())
    card = answer["result"]
    assert EXTENDED_SKILL in [s["id"] for s in card["skills"]], card
    assert card["protocolVersion"] == "0.3" and card["url"] == url, card
    assert_rewritten(card, url, port)

    r = httpx.get(env.url("ext", "/v1/card"), headers=env.alice())
    assert r.status_code == 200 and EXTENDED_SKILL in r.text, r.text
    assert_rewritten(r.json(), url, port)

    r = post_rpc(url, "agent/getAuthenticatedExtendedCard", {}, env.bob(), version=None)
    assert r.status_code == 404 and EXTENDED_SKILL not in r.text, r.text
    r = httpx.get(env.url("ext", "/v1/card"), headers=env.bob())
    assert r.status_code == 404 and EXTENDED_SKILL not in r.text, r.text


async def test_v03_cards_announce_agentmux_security_in_v03_shape(env: Env) -> None:
    answer = await a2a_util.jsonrpc(env.url("ext"), "agent/getAuthenticatedExtendedCard", {}, version=None, headers=env.alice())
    card = answer["result"]
    scheme = card.get("securitySchemes", {}).get("agentmux", {})
    assert scheme.get("type") == "http" and scheme.get("scheme") == "bearer", f"v0.3 SecurityScheme: {card.get('securitySchemes')}"
    assert card.get("security") == [{"agentmux": []}], f"v0.3 security requirements: {card.get('security')}"


# === 3. subscribing to a running task ===


def step_of(texts_: list[str]) -> int | None:
    for text in texts_:
        if m := re.fullmatch(r"step (\d+)", text):
            return int(m.group(1))
    return None


async def read_steps(events: Any, task: str, count: int, status_of: Any) -> list[tuple[float, int]]:
    """Reads `events` (arrival time, event) until `count` working steps of `task` have come."""
    steps: list[tuple[float, int]] = []
    seen: list[Any] = []
    with anyio.fail_after(15):
        async with aclosing(events):
            async for at, event in events:
                seen.append(event)
                found = status_of(event)
                if found is None:
                    continue
                task_id, step = found
                assert task_id == task, f"an event about another task: {event}"
                if step is not None:
                    steps.append((at, step))
                if len(steps) >= count:
                    break
    assert len(steps) >= count, seen
    return steps


def assert_live(steps: list[tuple[float, int]]) -> None:
    numbers = [n for _, n in steps]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers), numbers
    # The agent reports a step every 0.1 s: relayed as they come, not gathered.
    assert steps[-1][0] - steps[0][0] >= 0.1, steps


async def cancel(env: Env, task: str) -> None:
    answer = await a2a_util.jsonrpc(env.url("slow"), "CancelTask", {"id": task}, headers=env.alice())
    assert answer["result"]["status"]["state"] == "TASK_STATE_CANCELED", answer


def v1_status(event: dict[str, Any]) -> tuple[str, int | None] | None:
    result = event.get("result", event)  # a JSON-RPC frame, or an HTTP+JSON StreamResponse
    assert "error" not in event, event
    update = result.get("statusUpdate")
    if update is None:
        return (result["task"]["id"], None) if "task" in result else None
    parts = (update["status"].get("message") or {}).get("parts", [])
    return update["taskId"], step_of([p.get("text", "") for p in parts])


async def test_subscribe_to_task_v1(env: Env) -> None:
    task = await new_task(env, "slow", immediately=True)
    try:
        events = a2a_util.jsonrpc_stream(env.url("slow"), "SubscribeToTask", {"id": task}, headers=env.alice())
        assert_live(await read_steps(events, task, 3, v1_status))
        rest = a2a_util.sse_stream("GET", env.url("slow", f"/tasks/{task}:subscribe"), headers={**env.alice(), **V1})
        assert_live(await read_steps(rest, task, 3, v1_status))

        answer = await a2a_util.jsonrpc(env.url("slow"), "SubscribeToTask", {"id": task}, headers=env.bob())
        assert rpc_error(answer) == NOT_FOUND, answer
        r = httpx.get(env.url("slow", f"/tasks/{task}:subscribe"), headers={**env.bob(), **V1})
        assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND", r.text
    finally:
        await cancel(env, task)


async def test_resubscribe_v03(env: Env) -> None:
    task = await new_task(env, "slow", v03=True, immediately=True)

    def status(event: dict[str, Any]) -> tuple[str, int | None] | None:
        assert "error" not in event, event
        result = event["result"]
        if result.get("kind") != "status-update":
            return (result["id"], None) if result.get("kind") == "task" else None
        parts = (result["status"].get("message") or {}).get("parts", [])
        return result["taskId"], step_of([p.get("text", "") for p in parts])

    try:
        events = a2a_util.jsonrpc_stream(env.url("slow"), "tasks/resubscribe", {"id": task}, version=None, headers=env.alice())
        assert_live(await read_steps(events, task, 3, status))
        answer = await a2a_util.jsonrpc(env.url("slow"), "tasks/resubscribe", {"id": task}, version=None, headers=env.bob())
        assert rpc_error(answer) == NOT_FOUND, answer
    finally:
        await cancel(env, task)


# === 4. how cards are served ===


async def test_signatures_are_stripped_unless_kept(env: Env) -> None:
    own = httpx.get(env.agents["signed"].card_url).json()
    assert own["signatures"] == [FAKE_SIGNATURE], own

    stripped = httpx.get(env.url("signed", "/.well-known/agent-card.json"), headers=env.alice()).json()
    assert "signatures" not in stripped, stripped
    assert {i["url"] for i in stripped["supportedInterfaces"]} == {env.url("signed")}, stripped

    kept = httpx.get(env.url("signed-keep", "/.well-known/agent-card.json"), headers=env.alice()).json()
    assert kept == own, "with `signatures: keep` a signed card is served exactly as signed"
    # The entry still routes through agentmux for clients that call it there.
    answer = await a2a_util.jsonrpc(env.url("signed-keep"), "SendMessage", a2a_util.text_message_params("kept"), headers=env.alice())
    assert answer["result"]["message"]["parts"][0]["text"] == "echo: kept", answer


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "gw.example.com"}


def served_urls(hub: harness.Hub, agent: str, headers: dict[str, str]) -> set[str]:
    """Every URL agentmux gives out for `agent`: its card's interfaces and the directory's card link."""
    r = httpx.get(hub.url(f"/a2a/{agent}/.well-known/agent-card.json"), headers=headers)
    assert r.status_code == 200, r.text
    card = r.json()
    urls = {i["url"] for i in card["supportedInterfaces"] + card.get("additionalInterfaces", [])} | {card["url"]}
    listing = httpx.get(hub.url("/a2a"), headers=headers).json()["agents"]
    link = next(a["card"] for a in listing if a["name"] == agent)
    return urls | {link.removesuffix("/.well-known/agent-card.json")}


def test_forwarded_headers_count_only_from_trusted_proxies(env: Env, tmp_path: Path) -> None:
    # The module's hub trusts no proxy: the headers are the client's and change nothing.
    own = f"http://127.0.0.1:{env.hub.port}/a2a/signed"
    assert served_urls(env.hub, "signed", {**env.alice(), **FORWARDED}) == {own}

    registry = {"echo": {"a2a": {"url": env.agents["signed"].url}}}
    proxied = harness.start_hub(tmp_path / "proxied", registry, name="agentmux-a2a-proxied", settings={"server": {"trusted_proxies": ["127.0.0.1/32"]}})
    try:
        assert served_urls(proxied, "echo", FORWARDED) == {"https://gw.example.com/a2a/echo"}
        assert served_urls(proxied, "echo", {"X-Forwarded-Host": "gw.example.com"}) == {"http://gw.example.com/a2a/echo"}
        assert served_urls(proxied, "echo", {}) == {proxied.url("/a2a/echo")}
    finally:
        proxied.stop()


async def test_public_url_wins_everywhere(env: Env, tmp_path: Path) -> None:
    registry = {"echo": {"a2a": {"url": env.agents["signed"].url}}, "ext": {"a2a": {"url": env.agents["ext"].url}}}
    settings = {"a2a": {"public_url": "https://agents.example.com/gw/"}, "server": {"trusted_proxies": ["127.0.0.1/32"]}}
    public = harness.start_hub(tmp_path / "public", registry, name="agentmux-a2a-public", settings=settings)
    try:
        expected = {"https://agents.example.com/gw/a2a/echo"}
        assert served_urls(public, "echo", {}) == expected
        assert served_urls(public, "echo", FORWARDED) == expected, "public_url over what a trusted proxy says"
        extended = await a2a_util.jsonrpc(public.url("/a2a/ext"), "GetExtendedAgentCard", {})
        assert {i["url"] for i in extended["result"]["supportedInterfaces"]} == {"https://agents.example.com/gw/a2a/ext"}, extended
    finally:
        public.stop()


def test_v02_card_path(env: Env) -> None:
    current = httpx.get(env.url("ask", "/.well-known/agent-card.json"), headers=env.alice())
    legacy = httpx.get(env.url("ask", "/.well-known/agent.json"), headers=env.alice())
    assert legacy.status_code == 200 and legacy.json() == current.json(), legacy.text
    assert legacy.json()["url"] == env.url("ask")
    # Policies decide it like the other card path.
    denied = httpx.get(env.url("ext", "/.well-known/agent.json"), headers=env.bob())
    assert denied.status_code == 404, denied.text


# === 5. agents as MCP tools ===


@pytest.mark.parametrize("mode", MODES)
async def test_skill_tools_are_filtered_and_renamed(env: Env, mode: str) -> None:
    counter = env.agents["multi"].url + "/count"
    async with mcp_as(env.hub, env.keys["alice"][0], mode) as c:
        names = {t.name for t in await all_tools(c)}
        assert {"multi__say", "tally__tally"} <= names, sorted(names)
        assert not names & {"multi__echo", "multi__count", "tally__echo", "tally__count"}, sorted(names)

        before = httpx.get(counter).json()["requests"]
        said = await c.call_tool("multi__say", {"message": "renamed"})
        assert not said.is_error and texts(said) == ["echo: renamed"], said
        tallied = await c.call_tool("tally__tally", {"message": "included"})
        assert not tallied.is_error and texts(tallied) == ["echo: included"], tallied
        assert httpx.get(counter).json()["requests"] == before + 2, "each call reached the agent once"

        for hidden in ["multi__echo", "multi__count", "tally__echo"]:
            try:
                result = await c.call_tool(hidden, {"message": "x"})
            except MCPError:
                continue
            assert result.is_error, f"{hidden} answered: {result}"
    assert httpx.get(counter).json()["requests"] == before + 2, "a filtered-out tool reached the agent"

    # Policies and the audit see the skill's own name.
    def calls() -> list[dict[str, Any]] | None:
        lines = [e for e in env.audit() if e.get("resource") in ("multi/echo", "tally/count") and e.get("event") == "call"]
        return lines if {e["resource"] for e in lines} == {"multi/echo", "tally/count"} else None

    harness.wait_until(calls, WITHIN_S, "audit lines for multi/echo and tally/count")


async def call_files(env: Env) -> mcp_types.CallToolResult:
    async with mcp_as(env.hub, env.keys["alice"][0], "legacy") as c:
        result = await c.call_tool("files__files", {"message": "the files, please"})
    assert not result.is_error and result.structured_content["state"] == "completed", result
    assert texts(result) == ["two files"], result
    return result


async def test_a_file_with_bytes_becomes_an_embedded_resource(env: Env) -> None:
    result = await call_files(env)
    embedded = [b for b in result.content if isinstance(b, mcp_types.EmbeddedResource)]
    assert len(embedded) == 1, result.content
    blob = embedded[0].resource
    assert isinstance(blob, mcp_types.BlobResourceContents), blob
    assert base64.b64decode(blob.blob) == FILE_BYTES and blob.mime_type == "text/plain", blob
    assert str(blob.uri).endswith("/hello.txt"), blob


async def test_a_file_by_url_becomes_a_usable_resource_link(env: Env) -> None:
    result = await call_files(env)
    links = [b for b in result.content if isinstance(b, mcp_types.ResourceLink)]
    assert len(links) == 1, result.content
    link = links[0]
    assert link.name == "report.pdf" and link.mime_type == "application/pdf", link
    # docs/a2a.md: files as resource links (`url`). A client must be able to use the link: the
    # agent's URL itself (what agentmux does not serve, it cannot read).
    assert str(link.uri) == FILE_URL, link


# === 6. cards read again ===


def directory(hub: harness.Hub) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in httpx.get(hub.url("/a2a")).json()["agents"]}


def upstream_up(hub: harness.Hub, name: str) -> str | None:
    m = re.search(rf'^agentmux_upstream_up\{{upstream="{name}"\}} (\d+)', httpx.get(hub.url("/metrics")).text, re.M)
    return m.group(1) if m else None


async def wait_for_tools(c: Any, names: set[str], timeout: float = WITHIN_S) -> None:
    """Lists tools until they are `names` (a change reaches the MCP side asynchronously)."""
    seen: set[str] = set()
    with anyio.fail_after(timeout):
        while (seen := {t.name for t in await all_tools(c)}) != names:
            await anyio.sleep(0.1)
    assert seen == names


async def test_a_changed_card_is_seen_after_refresh(tmp_path: Path) -> None:
    logs = tmp_path / "agents"
    morph = a2a_util.start_agent("echo", name="morph", log_dir=logs)
    refresh_s = 1.0
    hub = harness.start_hub(tmp_path / "hub", {"morph": {"a2a": {"url": morph.url, "refresh": f"{refresh_s:g}s"}}}, name="agentmux-a2a-refresh")
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            changed.set()

    def served_card() -> dict[str, Any]:
        r = httpx.get(hub.url("/a2a/morph/.well-known/agent-card.json"))
        assert r.status_code == 200, r.text
        return r.json()

    def card_named(name: str) -> Any:
        return lambda: (card if (card := served_card())["name"] == name else None)

    try:
        first = served_card()
        assert first["name"] == "morph" and [s["id"] for s in first["skills"]] == ["echo"], first
        async with client(hub.url("/mcp"), "legacy", message_handler=on_message) as c:
            assert {t.name for t in await all_tools(c)} == {"morph__echo"}

            # The agent changes its card while it runs: agentmux serves the new one after `refresh`.
            httpx.post(morph.url + "/flip-card").raise_for_status()
            flipped_at = time.monotonic()
            card = harness.wait_until(card_named("morph-flipped"), WITHIN_S, "the flipped card through agentmux")
            took = time.monotonic() - flipped_at
            assert took < refresh_s + 2, f"seen {took:.1f} s after the change; refresh is {refresh_s:g} s"
            assert [s["id"] for s in card["skills"]] == ["echo", "flipped"], card
            assert {s["id"] for s in directory(hub)["morph"]["skills"]} == {"echo", "flipped"}
            with anyio.fail_after(WITHIN_S):
                await changed.wait()
            await wait_for_tools(c, {"morph__echo", "morph__flipped"})

            # Gone: a failed refresh keeps serving the last good card.
            morph.stop()
            hub.proc.logged("cannot read the agent's card", WITHIN_S)
            assert served_card()["name"] == "morph-flipped"
            assert directory(hub)["morph"]["health"] == "ready"

            # Back on the same port as another agent: read again once the retry finds it.
            morph = a2a_util.start_agent("count", name="morph-b", log_dir=logs, port=morph.port)
            card = harness.wait_until(card_named("morph-b"), 20, "the restarted agent's card through agentmux")
            assert [s["id"] for s in card["skills"]] == ["echo", "count"], card
            await wait_for_tools(c, {"morph__echo", "morph__count"}, 20)
            answer = await c.call_tool("morph__count", {"message": "new"})
            assert texts(answer) == ["echo: new"], answer
    finally:
        hub.stop()
        morph.stop()


async def test_an_agent_down_at_start_is_used_once_it_comes_up(tmp_path: Path) -> None:
    port = a2a_util.free_port()
    registry = {"late": {"a2a": {"url": f"http://127.0.0.1:{port}"}}}  # required (the default)
    hub = harness.start_hub(tmp_path / "hub", registry, name="agentmux-a2a-late")
    late = None
    try:
        # Ready once the required agent was tried, and it says how that went.
        assert httpx.get(hub.url("/readyz")).status_code == 200
        assert directory(hub)["late"]["health"] == "failed"
        assert upstream_up(hub, "late") == "0"
        r = post_rpc(hub.url("/a2a/late"), "SendMessage", a2a_util.text_message_params("early"), {})
        assert r.status_code == 502 and "agent `late` is not available" in r.json()["error"]["message"], r.text

        late = a2a_util.start_agent("echo", name="late", log_dir=tmp_path / "agents", port=port)
        # Retried with backoff (1 s, 2 s, 4 s …) from start.
        harness.wait_until(lambda: directory(hub)["late"]["health"] == "ready", 15, lambda: f"`late` to be ready: {directory(hub)}")
        assert upstream_up(hub, "late") == "1"
        assert httpx.get(hub.url("/readyz")).status_code == 200
        answer = await a2a_util.jsonrpc(hub.url("/a2a/late"), "SendMessage", a2a_util.text_message_params("now"))
        assert answer["result"]["message"]["parts"][0]["text"] == "echo: now", answer
        # The MCP side retries on its own schedule: the tool follows within its backoff.
        async with client(hub.url("/mcp"), "legacy") as c:
            await wait_for_tools(c, {"late__echo"}, 20)
            answer = await c.call_tool("late__echo", {"message": "tool"})
            assert texts(answer) == ["echo: tool"], answer
    finally:
        hub.stop()
        if late is not None:
            late.stop()


# === 7. the audit log ===


async def test_calls_and_denials_are_audited_with_agent_method_and_task(env: Env) -> None:
    task = await new_task(env)
    got = await a2a_util.jsonrpc(env.url("ask"), "GetTask", {"id": task}, headers=env.alice())
    assert got["result"]["id"] == task, got
    # Denied by the policies (bob may not read tasks at `ext`) …
    denied_task = f"denied-{uuid.uuid4()}"
    r = post_rpc(env.url("ext"), "GetTask", {"id": denied_task}, env.bob())
    assert r.status_code == 404, r.text
    # … and refused by agentmux (alice's task), over HTTP+JSON.
    r = httpx.get(env.url("ask", f"/tasks/{task}"), headers={**env.bob(), **V1})
    assert r.status_code == 404, r.text

    def lines() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:
        audit = env.audit()
        call = [e for e in audit if e.get("task_id") == task and e["principal"]["id"] == "alice" and e.get("event") == "call" and e["method"] == "GetTask"]
        deny = [e for e in audit if e.get("task_id") == denied_task]
        refused = [e for e in audit if e.get("task_id") == task and e["principal"]["id"] == "bob"]
        return (call[-1], deny[-1], refused[-1]) if call and deny and refused else None

    call, deny, refused = harness.wait_until(lines, WITHIN_S, "audit lines of the call, the denial and the refusal")
    assert call["resource"] == 'Agent::"ask"' and call["endpoint"] == "/a2a/ask" and call["version"] == "1.0", call
    assert call["decision"] == "allow" and call["action"] == "read_task" and call["status"] == 200, call
    assert deny["resource"] == 'Agent::"ext"' and deny["method"] == "GetTask" and deny["decision"] == "deny", deny
    assert deny["event"] == "decision" and deny["principal"]["id"] == "bob", deny
    assert refused["resource"] == 'Agent::"ask"' and refused["method"] == "GetTask" and refused["decision"] == "deny", refused
    assert "not found" in refused.get("reason", "").lower(), refused
    assert env.keys["alice"][0] not in (env.hub.config_path.parent / AUDIT_LOG).read_text(), "no key in the audit log"
