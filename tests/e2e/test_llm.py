"""LLM routes through agentmux, driven by the official `openai` and `anthropic` SDKs against the
wire-faithful fake providers (fixtures/llm/provider.py): chat completions (whole, streamed, tool
calls), embeddings, the models list, Anthropic messages and token counts, Azure deployments,
failover of a virtual model (429, 500, a provider that never answers, one that is down, a stream
cut after its first byte), policies on models and on estimated tokens, errors as each SDK's own
exceptions, and provider keys that never leave agentmux's config for anywhere but their provider.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import anthropic
import harness
import httpx
import llm_util
import openai
import pytest

OPENAI_KEY = "sk-openai-e2e-0123456789"
BACKUP_KEY = "sk-backup-e2e-9876543210"
AZURE_KEY = "azure-e2e-key-555"
ANTHROPIC_KEY = "sk-ant-e2e-4242424242"
PROVIDER_KEYS = [OPENAI_KEY, BACKUP_KEY, AZURE_KEY, ANTHROPIC_KEY]

POLICIES = """
// Engineers may use every model.
permit(principal in Group::"eng", action == Action::"call_model", resource);
// Sales may use Anthropic's models, for requests estimated under 2000 tokens.
permit(principal in Group::"sales", action == Action::"call_model", resource in Upstream::"claude")
when { context.estimated_tokens < 2000 };
// The quota team may use OpenAI's models, within its token and request limits.
permit(principal in Group::"quota", action == Action::"call_model", resource in Upstream::"openai");
"""




class Webhook:
    """A DLP service of the team's own, as a webhook guard calls it: it denies prompts that say
    "deny", rewrites those that say "rewrite", fails on "broken", allows the rest; and keeps
    what it was sent."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                webhook.seen.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                text = json.dumps(body["body"].get("messages", []))
                if "broken" in text:
                    self.send_response(500)
                    self.end_headers()
                    return
                if "deny" in text:
                    answer: dict[str, Any] = {"action": "deny", "reason": "policy 7 forbids it"}
                elif "rewrite" in text:
                    rewritten = dict(body["body"], messages=[{"role": "user", "content": "a cleaned prompt"}])
                    answer = {"action": "rewrite", "body": rewritten}
                else:
                    answer = {"action": "allow"}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/check"

    def stop(self) -> None:
        self.server.shutdown()


class Env(NamedTuple):
    hub: harness.Hub
    fakes: dict[str, llm_util.Provider]
    keys: dict[str, str]
    config_dir: Path
    webhook: Webhook

    @property
    def base(self) -> str:
        return self.hub.url("/v1")

    def openai(self, who: str = "alice", **kw: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base, api_key=self.keys[who], max_retries=0, timeout=20, **kw)

    def anthropic(self, who: str = "alice") -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.hub.url(""), api_key=self.keys[who], max_retries=0, timeout=20)

    def audit(self) -> list[dict[str, Any]]:
        path = self.config_dir / "audit.log"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []

    def audit_of(self, predicate: Any) -> list[dict[str, Any]]:
        def found() -> list[dict[str, Any]]:
            return [r for r in self.audit() if r.get("api") and predicate(r)]

        harness.wait_until(lambda: bool(found()), 5, "an audit line")
        return found()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    logs = tmp_path_factory.mktemp("llm-fakes")
    fakes: dict[str, llm_util.Provider] = {}
    hub = None
    webhook = Webhook()
    try:
        fakes["openai"] = llm_util.start_provider("openai", log_dir=logs, name="fake-openai", key=OPENAI_KEY)
        fakes["backup"] = llm_util.start_provider("openai", log_dir=logs, name="fake-backup", key=BACKUP_KEY)
        fakes["azure"] = llm_util.start_provider("azure", log_dir=logs, name="fake-azure", key=AZURE_KEY, models=["gpt-4o"])
        fakes["claude"] = llm_util.start_provider("anthropic", log_dir=logs, name="fake-anthropic", key=ANTHROPIC_KEY)
        config_dir = tmp_path_factory.mktemp("llm-hub")
        (config_dir / "dlp.token").write_text("dlp-token-7\n")
        for name, key in [("openai", OPENAI_KEY), ("backup", BACKUP_KEY), ("azure", AZURE_KEY), ("claude", ANTHROPIC_KEY)]:
            (config_dir / f"{name}.key").write_text(key + "\n")
        (config_dir / "policies").mkdir()
        (config_dir / "policies" / "llm.cedar").write_text(POLICIES)
        alice, alice_hash = harness.new_key(config_dir, "alice", "eng")
        bob, bob_hash = harness.new_key(config_dir, "bob", "sales")
        carol, carol_hash = harness.new_key(config_dir, "carol", "quota")
        quick = {"first_byte": "2s", "total": "20s"}
        registry = {
            "openai": {
                "llm": {"provider": "openai", "url": fakes["openai"].base_url, "key": "${file:../openai.key}",
                        "models": ["gpt-4.1", "gpt-4.1-mini", "text-embedding-3-small"]},
                "timeouts": quick,
            },
            "backup": {
                "llm": {"provider": "openai-compatible", "url": fakes["backup"].base_url, "key": "${file:../backup.key}",
                        "models": ["*"]},
                "timeouts": quick,
            },
            "azure": {
                "llm": {"provider": "azure-openai", "url": fakes["azure"].base_url, "key": "${file:../azure.key}",
                        "models": ["gpt-4o"], "api_version": "2024-10-21"},
                "timeouts": quick,
            },
            "claude": {
                "llm": {"provider": "anthropic", "url": fakes["claude"].base_url, "key": "${file:../claude.key}",
                        "models": ["claude-sonnet-4-5", "claude-haiku-4-5"]},
                "timeouts": quick,
            },
            # Nothing listens there: a provider that is down.
            "down": {"llm": {"provider": "openai-compatible", "url": "http://127.0.0.1:9/v1", "models": ["*"]}},
        }
        settings = {
            "auth": {"api_keys": [{"name": "alice", "hash": alice_hash, "groups": ["eng"]},
                                  {"name": "bob", "hash": bob_hash, "groups": ["sales"]},
                                  {"name": "carol", "hash": carol_hash, "groups": ["quota"]}]},
            "policies": "policies/",
            "audit": {"sink": "audit.log"},
            "llm": {"models": {
                "fast": {"targets": ["openai/gpt-4.1-mini", "backup/gpt-4.1-mini"]},
                "sturdy": {"targets": ["down/any", "openai/gpt-4.1"]},
                "pool": {"targets": [{"model": "openai/gpt-4.1", "weight": 1}, {"model": "backup/gpt-4.1", "weight": 1}]},
            },
                "guards": [
                    {"name": "no-cards-in", "builtin": "credit_card", "action": "reject", "models": ["openai/gpt-4.1-mini"]},
                    {"name": "cards-out", "builtin": "credit_card", "action": "mask", "on": ["response"], "models": ["azure/gpt-4o"]},
                    {"name": "mail", "builtin": "email", "action": "mask", "on": ["request"]},
                    {"name": "dlp", "webhook": {"url": webhook.url, "timeout": "2s",
                                                "headers": {"Authorization": "Bearer ${file:dlp.token}"}},
                     "models": ["backup/guarded"]},
                ],
                "prompts": [{"models": ["claude/claude-haiku-4-5"], "prepend_system": "Answer in English."}],
                "prices": {"openai/gpt-4.1": {"input_per_million": 2.0, "output_per_million": 8.0}},
                "limits": [
                    {"name": "quota-tokens", "match": {"group": "quota"}, "tokens_per_minute": 2500},
                    {"name": "quota-requests", "match": {"group": "quota"}, "per": "principal", "requests_per_minute": 5},
                ]},
        }
        hub = harness.start_hub(config_dir, registry, name="agentmux-llm", settings=settings)
        yield Env(hub, fakes, {"alice": alice, "bob": bob, "carol": carol}, config_dir, webhook)
    finally:
        webhook.stop()
        if hub:
            hub.stop()
        for fake in fakes.values():
            fake.stop()


@pytest.fixture(autouse=True)
def clean(env: Env) -> None:
    for fake in env.fakes.values():
        fake.clear()


def last_request(fake: llm_util.Provider) -> dict[str, Any]:
    requests = [r for r in fake.requests() if not r["path"].startswith("/_")]
    assert requests, "the provider got no request"
    return requests[-1]


def test_chat_completion_reaches_the_provider_with_its_own_key(env: Env) -> None:
    answer = env.openai().chat.completions.create(model="openai/gpt-4.1", messages=[{"role": "user", "content": "hello there"}])
    assert answer.choices[0].message.content == "echo: hello there"
    assert answer.usage and answer.usage.prompt_tokens == 2
    seen = last_request(env.fakes["openai"])
    assert seen["body"]["model"] == "gpt-4.1", "the entry's name is not the provider's"
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert env.keys["alice"] not in json.dumps(seen), "the caller's agentmux key never reaches a provider"
    line = env.audit_of(lambda r: r.get("event") == "call" and r.get("requested") == "openai/gpt-4.1")[-1]
    assert (line["tokens_in"], line["tokens_out"]) == (2, 3), line
    assert abs(line["cost_usd"] - (2 * 2.0 + 3 * 8.0) / 1e6) < 1e-12, line
    metrics = httpx.get(env.hub.url("/metrics")).text
    assert re.search(r'^agentmux_llm_cost_usd_total\{model="openai/gpt-4.1"\} \S+', metrics, re.M), metrics
    usage = r'^gen_ai_client_token_usage_count\{[^}]*gen_ai_provider_name="openai",gen_ai_request_model="openai/gpt-4.1"[^}]*gen_ai_token_type="input"\} \d+'
    assert re.search(usage, metrics, re.M), metrics


def test_streamed_chat_arrives_in_chunks_with_usage(env: Env) -> None:
    stream = env.openai().chat.completions.create(
        model="openai/gpt-4.1",
        messages=[{"role": "user", "content": "one two three four five six"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three four five six"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) >= 3, "several deltas"
    assert chunks[-1].usage and chunks[-1].usage.completion_tokens > 0, "the usage chunk came through"
    # The stream's line is written when it ends, after the client read it: wait for that one.
    line = env.audit_of(lambda r: r.get("event") == "call" and r.get("served_by") == "openai/gpt-4.1"
                        and r.get("tokens_in") == 6)[-1]
    assert line["tokens_out"] > 0, line


def test_tool_calls_round_trip_streamed(env: Env) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    messages: list[dict[str, Any]] = [{"role": "user", "content": "what is the weather in Lisbon"}]
    client = env.openai()
    stream = client.chat.completions.create(model="openai/gpt-4.1", messages=messages, tools=tools, stream=True)
    calls: dict[int, dict[str, str]] = {}
    for chunk in stream:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            call["name"] += (delta.function.name or "") if delta.function else ""
            call["arguments"] += (delta.function.arguments or "") if delta.function else ""
    assert list(calls) == [0] and calls[0]["name"] == "get_weather", calls
    assert json.loads(calls[0]["arguments"]) == {"city": "Lisbon"}
    messages += [
        {"role": "assistant", "tool_calls": [{"id": calls[0]["id"], "type": "function", "function": {"name": "get_weather", "arguments": calls[0]["arguments"]}}]},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "sunny"},
    ]
    answer = client.chat.completions.create(model="openai/gpt-4.1", messages=messages, tools=tools)
    assert answer.choices[0].message.content == "echo: tool said sunny"


def test_embeddings_float_and_base64(env: Env) -> None:
    client = env.openai()
    floats = client.embeddings.create(model="openai/text-embedding-3-small", input=["a", "b"])
    assert len(floats.data) == 2 and len(floats.data[0].embedding) > 0
    decoded = client.embeddings.create(model="openai/text-embedding-3-small", input="a")
    assert decoded.data[0].embedding == floats.data[0].embedding, "the SDK's base64 default decodes to the same vector"


def test_models_list_shows_what_each_caller_may_use(env: Env) -> None:
    alice = {m.id for m in env.openai().models.list()}
    assert {"openai/gpt-4.1", "azure/gpt-4o", "claude/claude-sonnet-4-5", "fast", "pool"} <= alice, alice
    bob = {m.id for m in env.openai("bob").models.list()}
    assert bob == {"claude/claude-sonnet-4-5", "claude/claude-haiku-4-5"}, bob
    anthropic_view = [m.id for m in env.anthropic("bob").models.list()]
    assert sorted(anthropic_view) == sorted(bob), "the Anthropic SDK reads the same list in its shape"
    assert env.openai().models.retrieve("openai/gpt-4.1").id == "openai/gpt-4.1"
    with pytest.raises(openai.NotFoundError):
        env.openai("bob").models.retrieve("openai/gpt-4.1")


def test_anthropic_messages_whole_and_streamed(env: Env) -> None:
    client = env.anthropic()
    answer = client.messages.create(model="claude/claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "bonjour"}])
    assert answer.content[0].text == "echo: bonjour"
    seen = last_request(env.fakes["claude"])
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["x-api-key"] == ANTHROPIC_KEY and "authorization" not in headers, headers
    assert seen["body"]["model"] == "claude-sonnet-4-5"
    with client.messages.stream(
        model="claude/claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "un deux trois quatre"}]
    ) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(texts) == "echo: un deux trois quatre" and len(texts) >= 2
    assert final.usage.output_tokens > 0
    counted = client.messages.count_tokens(model="claude/claude-sonnet-4-5", messages=[{"role": "user", "content": "a b c"}])
    assert counted.input_tokens == 3


def test_azure_deployments_through_the_openai_api(env: Env) -> None:
    answer = env.openai().chat.completions.create(model="azure/gpt-4o", messages=[{"role": "user", "content": "hi azure"}])
    assert answer.choices[0].message.content == "echo: hi azure"
    seen = last_request(env.fakes["azure"])
    assert seen["path"] == "/openai/deployments/gpt-4o/chat/completions" and "api-version=2024-10-21" in seen["query_string"], seen
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["api-key"] == AZURE_KEY and "authorization" not in headers


def test_a_virtual_model_fails_over_on_429_and_500(env: Env) -> None:
    primary, backup = env.fakes["openai"], env.fakes["backup"]
    for mode in [{"mode": "fail", "status": 500}, {"mode": "rate_limit", "retry_after": 1}]:
        primary.control(**mode, times=1)
        answer = env.openai().chat.completions.create(model="fast", messages=[{"role": "user", "content": "ping"}])
        assert answer.choices[0].message.content == "echo: ping", "the client never notices"
        assert last_request(backup)["body"]["model"] == "gpt-4.1-mini"
        backup.clear()
    line = env.audit_of(lambda r: r.get("event") == "call" and r.get("model") == "Model::\"backup/gpt-4.1-mini\"")[-1]
    assert [h["model"] for h in line["hops"]] == ["openai/gpt-4.1-mini", "backup/gpt-4.1-mini"], line
    assert line["hops"][0]["outcome"] == "429", line
    # It asked for a second's pause: until then it is tried last, so the backup serves at once.
    primary.clear()
    env.openai().chat.completions.create(model="fast", messages=[{"role": "user", "content": "again"}])
    assert primary.requests() == [], "a provider that asked for a pause is not asked during it"
    assert last_request(backup)["body"]["model"] == "gpt-4.1-mini"
    time.sleep(1.2)
    env.openai().chat.completions.create(model="fast", messages=[{"role": "user", "content": "after"}])
    assert last_request(primary)["body"]["model"] == "gpt-4.1-mini", "first again once the pause is over"


def test_failover_past_a_provider_that_is_down_or_never_answers(env: Env) -> None:
    answer = env.openai().chat.completions.create(model="sturdy", messages=[{"role": "user", "content": "still here"}])
    assert answer.choices[0].message.content == "echo: still here", "past a refused connection"
    env.fakes["openai"].control(mode="stall", times=1)
    answer = env.openai().chat.completions.create(model="fast", messages=[{"role": "user", "content": "patience"}])
    assert answer.choices[0].message.content == "echo: patience", "past a provider that never answers (first_byte: 2s)"


def test_a_stream_cut_after_its_first_byte_is_not_retried(env: Env) -> None:
    primary, backup = env.fakes["openai"], env.fakes["backup"]
    primary.control(mode="cut", cut_after=2, times=1)
    stream = env.openai().chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "a b c d e f g h"}], stream=True
    )
    got: list[str] = []
    with pytest.raises((openai.APIError, httpx.HTTPError)):
        for chunk in stream:
            got.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    assert got, "the first events reached the client"
    assert not [r for r in backup.requests() if not r["path"].startswith("/_")], "no second provider once bytes went out"


def test_a_stream_cut_before_its_first_byte_fails_over(env: Env) -> None:
    primary, backup = env.fakes["openai"], env.fakes["backup"]
    primary.control(mode="cut", cut_after=0, times=1)
    stream = env.openai().chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "from the top"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "echo: from the top", "the client never notices"
    assert last_request(backup)["body"]["model"] == "gpt-4.1-mini"
    line = env.audit_of(lambda r: r.get("event") == "call" and r.get("requested") == "fast"
                        and len(r.get("hops", [])) == 2 and r["hops"][1]["outcome"] == "200")[-1]
    assert line["hops"][0]["model"] == "openai/gpt-4.1-mini", line


def test_the_last_providers_429_reaches_the_client_with_retry_after(env: Env) -> None:
    env.fakes["openai"].control(mode="rate_limit", retry_after=3, times=1)
    with pytest.raises(openai.RateLimitError) as raised:
        env.openai().chat.completions.create(model="openai/gpt-4.1", messages=[{"role": "user", "content": "x"}])
    assert raised.value.response.headers.get("retry-after") == "3"


def test_refusals_come_as_each_sdks_own_errors(env: Env) -> None:
    messages = [{"role": "user", "content": "x"}]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=env.base, api_key="amx_not-a-real-key", max_retries=0).chat.completions.create(model="openai/gpt-4.1", messages=messages)
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=env.hub.url(""), api_key="amx_wrong", max_retries=0).messages.create(
            model="claude/claude-sonnet-4-5", max_tokens=10, messages=messages
        )
    with pytest.raises(openai.NotFoundError):
        env.openai().chat.completions.create(model="openai/no-such-model", messages=messages)
    with pytest.raises(openai.NotFoundError):
        env.openai("bob").chat.completions.create(model="openai/gpt-4.1", messages=messages)
    with pytest.raises(openai.BadRequestError) as raised:
        env.openai().embeddings.create(model="claude/claude-sonnet-4-5", input="x")
    assert "anthropic" in str(raised.value), "says why: the API cannot reach that provider"
    r = httpx.post(env.base + "/chat/completions", content=b'{"model": "a/b", "model": "openai/gpt-4.1"}',
                   headers={"Authorization": f"Bearer {env.keys['alice']}", "Content-Type": "application/json"})
    assert r.status_code == 400 and "duplicate" in r.json()["error"]["message"], r.text


def test_policies_read_estimated_tokens(env: Env) -> None:
    client = env.anthropic("bob")
    short = client.messages.create(model="claude/claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": "short"}])
    assert short.content[0].text == "echo: short"
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="claude/claude-haiku-4-5", max_tokens=5000, messages=[{"role": "user", "content": "long"}])
    denial = env.audit_of(
        lambda r: r.get("decision") == "deny" and r.get("principal", {}).get("id") == "bob" and r.get("api") == "messages"
    )[-1]
    assert denial["model"] == 'Model::"claude/claude-haiku-4-5"' and denial["policies"] == [], denial


def test_provider_keys_never_reach_logs_or_audit(env: Env) -> None:
    env.openai().chat.completions.create(model="fast", messages=[{"role": "user", "content": "k"}])
    texts = [(env.config_dir / "audit.log").read_text()] + [p.read_text(errors="replace") for p in (env.config_dir / "logs").glob("*")]
    for key in PROVIDER_KEYS:
        assert not any(key in text for text in texts), "a provider key was written down"
    for name, fake in env.fakes.items():
        for request in fake.requests():
            others = [k for k in PROVIDER_KEYS if k in json.dumps(request["headers"])]
            assert len(others) <= 1, f"{name} saw several providers' keys"


def fresh_window() -> None:
    """Limits count per wall-clock minute: a test that fills one starts early in a minute."""
    if time.time() % 60 > 45:
        time.sleep(60 - time.time() % 60 + 0.2)


def test_token_limits_admit_on_estimates_and_charge_real_usage(env: Env) -> None:
    fresh_window()
    client = env.openai("carol")
    hi = [{"role": "user", "content": "hi"}]
    # Each is estimated at 1502 tokens (6 bytes of text / 4, plus max_tokens) and uses 3.
    client.chat.completions.create(model="openai/gpt-4.1", messages=hi, max_tokens=1500)
    client.chat.completions.create(model="openai/gpt-4.1", messages=hi, max_tokens=1500)
    chunks = list(client.chat.completions.create(model="openai/gpt-4.1", messages=hi, max_tokens=1500, stream=True))
    assert chunks and all(c.choices for c in chunks), "the usage chunk agentmux asked for is not the client's"
    assert last_request(env.fakes["openai"])["body"]["stream_options"] == {"include_usage": True}
    # Admitted only if all three were charged their usage (9), not their estimates (4506).
    client.chat.completions.create(model="openai/gpt-4.1", messages=hi, max_tokens=2400)
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="openai/gpt-4.1", messages=hi, max_tokens=2495)
    headers = raised.value.response.headers
    assert 1 <= int(headers["retry-after"]) <= 60 and headers["x-ratelimit-limit-tokens"] == "2500", dict(headers)
    assert "quota-tokens" in str(raised.value)
    assert env.openai().chat.completions.create(model="openai/gpt-4.1", messages=hi, max_tokens=2495).choices, "another team is apart"
    # Requests per minute, per principal: four admitted so far (the refused one was given back).
    client.chat.completions.create(model="openai/gpt-4.1", messages=hi)
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="openai/gpt-4.1", messages=hi)
    assert raised.value.response.headers["x-ratelimit-limit-requests"] == "5"
    refusal = env.audit_of(lambda r: r.get("reason") == "limit `quota-requests`")[-1]
    assert refusal["decision"] == "deny" and refusal["principal"]["id"] == "carol", refusal


def test_guards_reject_and_mask_requests(env: Env) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        env.openai().chat.completions.create(
            model="openai/gpt-4.1-mini", messages=[{"role": "user", "content": "charge 4111 1111 1111 1111"}]
        )
    assert "no-cards-in" in str(raised.value) and "4111" not in str(raised.value)
    assert not [r for r in env.fakes["openai"].requests() if not r["path"].startswith("/_")], "the provider saw nothing"
    line = env.audit_of(lambda r: r.get("reason") == "guard `no-cards-in`")[-1]
    assert "4111" not in json.dumps(line), "the audit names the rule, never the match"
    answer = env.openai().chat.completions.create(model="openai/gpt-4.1", messages=[{"role": "user", "content": "write to jane@example.com"}])
    assert answer.choices[0].message.content == "echo: write to [REDACTED:mail]"
    assert "jane@example.com" not in json.dumps(last_request(env.fakes["openai"])["body"])
    line = env.audit_of(lambda r: r.get("event") == "call" and r.get("masked_by") == ["mail"])[-1]
    assert "jane@" not in json.dumps(line), "the audit names the guard that masked, never what it found"


def test_guards_mask_answers_even_when_a_finding_spans_stream_chunks(env: Env) -> None:
    card = [{"role": "user", "content": "pay 4111 1111 1111 1111 today"}]
    whole = env.openai().chat.completions.create(model="azure/gpt-4o", messages=card)
    assert whole.choices[0].message.content == "echo: pay [REDACTED:cards-out] today"
    env.fakes["azure"].control(chunks=7)  # a word per delta: the card number spans four
    stream = env.openai().chat.completions.create(model="azure/gpt-4o", messages=card, stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: pay [REDACTED:cards-out] today", text
    sent = last_request(env.fakes["azure"])
    assert sent["body"]["messages"][0]["content"].startswith("pay 4111"), "a response-only guard leaves the request"

    def masked_answers() -> list[dict[str, Any]]:
        return [r for r in env.audit() if r.get("served_by") == "azure/gpt-4o" and r.get("masked_by") == ["cards-out"]]

    harness.wait_until(lambda: len(masked_answers()) >= 2, 5, "audit lines naming the guard that masked both answers")
    assert all("4111" not in json.dumps(r) for r in masked_answers())


def test_a_webhook_guard_allows_denies_and_rewrites(env: Env) -> None:
    def ask(text: str) -> Any:
        return env.openai().chat.completions.create(model="backup/guarded", messages=[{"role": "user", "content": text}])

    assert ask("hello").choices[0].message.content == "echo: hello"
    seen = env.webhook.seen[-1]
    assert seen["body"]["guard"] == "dlp" and seen["body"]["model"] == "backup/guarded"
    assert seen["body"]["api"] == "chat" and seen["body"]["principal"] == 'ApiKey::"alice"'
    assert seen["headers"]["authorization"] == "Bearer dlp-token-7", "the guard's own credentials"
    assert env.keys["alice"] not in json.dumps(seen), "never the caller's"
    with pytest.raises(openai.BadRequestError) as raised:
        ask("please deny this")
    assert "blocked by guard `dlp`: policy 7 forbids it" in str(raised.value)
    line = env.audit_of(lambda r: r.get("reason") == "guard `dlp`: policy 7 forbids it")[-1]
    assert line["decision"] == "deny"
    assert ask("rewrite me").choices[0].message.content == "echo: a cleaned prompt"
    assert last_request(env.fakes["backup"])["body"]["messages"] == [{"role": "user", "content": "a cleaned prompt"}]
    # A webhook that fails: closed by default, and the problem stays in the audit log.
    backup_requests = len(env.fakes["backup"].requests())
    with pytest.raises(openai.InternalServerError) as raised:
        ask("broken on purpose")
    assert raised.value.status_code == 503 and "could not decide" in str(raised.value)
    assert len(env.fakes["backup"].requests()) == backup_requests, "the provider saw nothing"
    env.audit_of(lambda r: "guard `dlp` could not decide" in (r.get("reason") or ""))
    assert env.openai().chat.completions.create(
        model="backup/other", messages=[{"role": "user", "content": "deny"}]).choices[0].message.content == "echo: deny", \
        "only for the models it names"


def test_system_prompts_are_added_for_their_models(env: Env) -> None:
    env.anthropic().messages.create(model="claude/claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    assert last_request(env.fakes["claude"])["body"]["system"] == "Answer in English."
    env.anthropic().messages.create(model="claude/claude-sonnet-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    assert "system" not in last_request(env.fakes["claude"])["body"], "only for the models it names"


def test_the_openai_sdk_reaches_anthropic_models_translated(env: Env) -> None:
    client = env.openai()
    answer = client.chat.completions.create(
        model="claude/claude-sonnet-4-5",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hola amigo"}],
    )
    assert answer.choices[0].message.content == "echo: hola amigo"
    assert answer.model == "claude/claude-sonnet-4-5" and answer.choices[0].finish_reason == "stop"
    assert answer.usage and answer.usage.prompt_tokens > 0
    seen = last_request(env.fakes["claude"])
    assert seen["path"] == "/v1/messages" and seen["body"]["system"] == "Be brief." and seen["body"]["max_tokens"] > 0, seen
    stream = client.chat.completions.create(
        model="claude/claude-sonnet-4-5", messages=[{"role": "user", "content": "uno dos tres cuatro"}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: uno dos tres cuatro"
    assert chunks[-1].usage and chunks[-1].usage.completion_tokens > 0
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    called = client.chat.completions.create(
        model="claude/claude-sonnet-4-5", messages=[{"role": "user", "content": "weather in Oslo"}], tools=tools
    )
    call = called.choices[0].message.tool_calls[0]
    assert called.choices[0].finish_reason == "tool_calls" and json.loads(call.function.arguments) == {"city": "Oslo"}


def test_the_anthropic_sdk_reaches_openai_models_translated(env: Env) -> None:
    client = env.anthropic()
    answer = client.messages.create(model="openai/gpt-4.1", max_tokens=100, messages=[{"role": "user", "content": "guten tag"}])
    assert answer.content[0].text == "echo: guten tag" and answer.stop_reason == "end_turn"
    assert last_request(env.fakes["openai"])["path"] == "/v1/chat/completions"
    with client.messages.stream(
        model="openai/gpt-4.1", max_tokens=100, messages=[{"role": "user", "content": "eins zwei drei vier"}]
    ) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(texts) == "echo: eins zwei drei vier" and len(texts) >= 2
    assert final.usage.output_tokens > 0


def test_a_provider_failing_in_a_row_is_tried_last(env: Env) -> None:
    """Runs last: it leaves `openai` ejected from virtual models for 30 s."""
    primary, backup = env.fakes["openai"], env.fakes["backup"]
    primary.control(mode="fail", status=503, times=3)
    ask = [{"role": "user", "content": "again"}]
    for _ in range(3):
        assert env.openai().chat.completions.create(model="fast", messages=ask).choices[0].message.content == "echo: again"
    assert len([r for r in primary.requests() if not r["path"].startswith("/_")]) == 3
    env.openai().chat.completions.create(model="fast", messages=ask)
    assert len([r for r in primary.requests() if not r["path"].startswith("/_")]) == 3, "ejected: not tried first"
    assert len([r for r in backup.requests() if not r["path"].startswith("/_")]) == 4
    direct = env.openai().chat.completions.create(model="openai/gpt-4.1-mini", messages=ask)
    assert direct.choices[0].message.content == "echo: again", "a model named directly is still tried"
