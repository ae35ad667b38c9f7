"""Gemini and Bedrock (Converse) behind agentmux, reached through translation: the official
`openai` SDK on `/v1/chat/completions` and `/v1/embeddings` and the `anthropic` SDK on
`/v1/messages`, against the wire-faithful fakes (fixtures/llm/provider.py), which check each
request as the real service would — Gemini's field names and key header, Bedrock's SigV4
signature (with a session token, scoped to the configured region) and Converse's validation.

Each test asks for what a user would see: the answer's text, tool calls that round-trip,
streams that arrive chunk by chunk with their usage, errors as the SDK's own exceptions,
failover between the two, and audit lines with the tokens counted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import anthropic
import harness
import llm_util
import openai
import pytest

GEMINI_KEY = "AIza-gemini-e2e-1234567890"
AWS_ID = "AKIDAGENTMUXE2E"
AWS_SECRET = "agentmux/e2e/secret+key/0123456789abcdef"
AWS_TOKEN = "session-token-e2e-42"
REGION = "eu-west-3"
BEDROCK_API_KEY = "ABSKbedrock-api-key-e2e-77"
SECRETS = [GEMINI_KEY, AWS_SECRET, AWS_TOKEN, BEDROCK_API_KEY]

GEMINI = "gemini/gemini-2.5-flash"
NOVA = "bedrock/amazon.nova-lite-v1:0"
BEDROCK_CLAUDE = "bedrock/anthropic.claude-3-haiku-20240307-v1:0"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
WEATHER_ANTHROPIC = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


class Env(NamedTuple):
    hub: harness.Hub
    fakes: dict[str, llm_util.Provider]
    key: str
    config_dir: Path

    def openai(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.hub.url("/v1"), api_key=self.key, max_retries=0, timeout=20)

    def anthropic(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.hub.url(""), api_key=self.key, max_retries=0, timeout=20)

    def audit_of(self, model: str, check: Any = lambda r: True) -> dict[str, Any]:
        """The newest audit line of a request `model` served that passes `check`, once written."""
        path = self.config_dir / "audit.log"

        def found() -> list[dict[str, Any]]:
            lines = path.read_text().splitlines() if path.exists() else []
            records = [json.loads(line) for line in lines if line.strip()]
            return [r for r in records if r.get("served_by") == model and check(r)]

        harness.wait_until(lambda: bool(found()), 5, f"an audit line for {model}")
        return found()[-1]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    logs = tmp_path_factory.mktemp("llm-provider-fakes")
    fakes: dict[str, llm_util.Provider] = {}
    hub = None
    try:
        fakes["gemini"] = llm_util.start_provider("gemini", log_dir=logs, name="fake-gemini", key=GEMINI_KEY)
        fakes["openai"] = llm_util.start_provider("openai", log_dir=logs, name="fake-openai")
        fakes["bedrock"] = llm_util.start_provider(
            "bedrock", log_dir=logs, name="fake-bedrock", key=f"{AWS_ID}:{AWS_SECRET}:{AWS_TOKEN}", region=REGION,
            api_key=BEDROCK_API_KEY,
        )
        config_dir = tmp_path_factory.mktemp("llm-providers-hub")
        for name, value in [("gemini.key", GEMINI_KEY), ("aws.id", AWS_ID), ("aws.secret", AWS_SECRET),
                            ("aws.token", AWS_TOKEN), ("bedrock.key", BEDROCK_API_KEY)]:
            (config_dir / name).write_text(value + "\n")
        key, key_hash = harness.new_key(config_dir, "dev", "eng")
        quick = {"first_byte": "3s", "total": "20s"}
        registry = {
            "gemini": {
                "llm": {"provider": "gemini", "url": fakes["gemini"].url, "key": "${file:../gemini.key}",
                        "models": ["gemini-2.5-flash", "gemini-embedding-001"]},
                "timeouts": quick,
            },
            "openai": {"llm": {"provider": "openai", "url": fakes["openai"].base_url, "key": "${file:../gemini.key}",
                               "models": ["gpt-4.1"]}, "timeouts": quick},
            "bedrock": {
                "llm": {"provider": "bedrock", "url": fakes["bedrock"].url, "region": REGION,
                        "aws": {"access_key_id": "${file:../aws.id}", "secret_access_key": "${file:../aws.secret}",
                                "session_token": "${file:../aws.token}"},
                        "models": ["*"]},
                "timeouts": quick,
            },
        }
        registry["bedrock-key"] = {
            "llm": {"provider": "bedrock", "url": fakes["bedrock"].url, "region": REGION,
                    "key": "${file:../bedrock.key}", "models": ["amazon.nova-lite-v1:0"]},
            "timeouts": quick,
        }
        settings = {
            "auth": {"api_keys": [{"name": "dev", "hash": key_hash, "groups": ["eng"]}]},
            "audit": {"sink": "audit.log"},
            "llm": {"models": {"sturdy": {"targets": [GEMINI, NOVA]}},
                    "retries": {"attempts": 3, "budget": "10s", "wait": "2s"}},
        }
        hub = harness.start_hub(config_dir, registry, name="agentmux-llm-providers", settings=settings)
        yield Env(hub, fakes, key, config_dir)
    finally:
        if hub:
            hub.stop()
        for fake in fakes.values():
            fake.stop()


@pytest.fixture(autouse=True)
def clean(env: Env) -> None:
    for fake in env.fakes.values():
        fake.clear()


def last_request(fake: llm_util.Provider) -> dict[str, Any]:
    requests = fake.requests()
    assert requests, "the provider got no request"
    return requests[-1]


# === OpenAI's SDK ===


@pytest.mark.parametrize("model", [GEMINI, NOVA])
def test_chat_completions_reach_gemini_and_bedrock_translated(env: Env, model: str) -> None:
    client = env.openai()
    answer = client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}],
        max_tokens=50,
    )
    assert answer.choices[0].message.content == "echo: hello there"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == model
    # The fakes count words: "Be brief." + "hello there" in, "echo: hello there" out.
    assert answer.usage.prompt_tokens == 4
    assert answer.usage.completion_tokens == 3
    fake = env.fakes[model.split("/")[0]]
    sent = last_request(fake)
    if model == GEMINI:
        assert sent["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
        assert sent["body"]["systemInstruction"]["parts"][0]["text"] == "Be brief."
        assert sent["body"]["generationConfig"]["maxOutputTokens"] == 50
    else:
        assert sent["raw_path"] == "/model/amazon.nova-lite-v1%3A0/converse"
        assert sent["body"]["system"] == [{"text": "Be brief."}]
        assert sent["body"]["inferenceConfig"]["maxTokens"] == 50


@pytest.mark.parametrize("model", [GEMINI, NOVA])
def test_streamed_chat_arrives_chunk_by_chunk_with_usage(env: Env, model: str) -> None:
    client = env.openai()
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "one two three four five six"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(texts) == "echo: one two three four five six"
    assert len(texts) >= 3, f"the answer came in pieces, not at once: {texts}"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    usage = [c.usage for c in chunks if c.usage]
    assert len(usage) == 1 and usage[0].prompt_tokens == 6 and usage[0].completion_tokens == 7
    assert chunks[-1].choices == []
    env.audit_of(model, lambda r: (r["tokens_in"], r["tokens_out"]) == (6, 7))


@pytest.mark.parametrize("model", [GEMINI, NOVA])
def test_streams_without_include_usage_send_no_usage_chunk(env: Env, model: str) -> None:
    chunks = list(env.openai().chat.completions.create(
        model=model, messages=[{"role": "user", "content": "quiet please"}], stream=True))
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


@pytest.mark.parametrize("model", [GEMINI, NOVA])
@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_round_trip(env: Env, model: str, stream: bool) -> None:
    client = env.openai()
    messages: list[dict[str, Any]] = [{"role": "user", "content": "what is the weather in Lyon?"}]
    if stream:
        chunks = list(client.chat.completions.create(model=model, messages=messages, tools=[WEATHER], stream=True))
        calls: dict[int, dict[str, str]] = {}
        for chunk in chunks:
            for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                call["name"] += delta.function.name or "" if delta.function else ""
                call["arguments"] += delta.function.arguments or "" if delta.function else ""
        assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
        assert list(calls) == [0]
        call = calls[0]
    else:
        answer = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER])
        assert answer.choices[0].finish_reason == "tool_calls"
        [tool_call] = answer.choices[0].message.tool_calls
        call = {"id": tool_call.id, "name": tool_call.function.name, "arguments": tool_call.function.arguments}
    assert call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"city": "Lyon"}
    assert call["id"]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}]},
        {"role": "tool", "tool_call_id": call["id"], "content": '{"sky": "clear"}'},
    ]
    answer = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER])
    assert answer.choices[0].message.content == 'echo: tool said {"sky":"clear"}'


def test_embeddings_reach_gemini(env: Env) -> None:
    result = env.openai().embeddings.create(model="gemini/gemini-embedding-001", input=["alpha", "beta gamma"])
    assert [d.index for d in result.data] == [0, 1]
    assert all(len(d.embedding) == 3072 for d in result.data)
    assert result.data[0].embedding != result.data[1].embedding
    sent = last_request(env.fakes["gemini"])
    assert sent["path"] == "/v1beta/models/gemini-embedding-001:batchEmbedContents"


def test_json_schema_output_reaches_gemini(env: Env) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    answer = env.openai().chat.completions.create(
        model=GEMINI,
        messages=[{"role": "user", "content": "give json"}],
        response_format={"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}},
    )
    assert answer.choices[0].message.content == "echo: give json", "the fake has no JSON mode of its own"
    config = last_request(env.fakes["gemini"])["body"]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == schema


# === Anthropic's SDK ===


@pytest.mark.parametrize("model", [GEMINI, BEDROCK_CLAUDE])
def test_anthropic_messages_reach_gemini_and_bedrock(env: Env, model: str) -> None:
    client = env.anthropic()
    message = client.messages.create(
        model=model, max_tokens=100, system="Be brief.", messages=[{"role": "user", "content": "hi from anthropic"}])
    assert message.content[0].type == "text"
    assert message.content[0].text == "echo: hi from anthropic"
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 4
    with client.messages.stream(model=model, max_tokens=100,
                                messages=[{"role": "user", "content": "stream me please"}]) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(texts) == "echo: stream me please"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4


@pytest.mark.parametrize("model", [GEMINI, BEDROCK_CLAUDE])
def test_anthropic_tool_use_round_trips(env: Env, model: str) -> None:
    client = env.anthropic()
    messages: list[dict[str, Any]] = [{"role": "user", "content": "weather in Nice?"}]
    first = client.messages.create(model=model, max_tokens=100, tools=[WEATHER_ANTHROPIC], messages=messages)
    assert first.stop_reason == "tool_use"
    [use] = [b for b in first.content if b.type == "tool_use"]
    assert (use.name, use.input) == ("get_weather", {"city": "Nice"})
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]},
    ]
    second = client.messages.create(model=model, max_tokens=100, tools=[WEATHER_ANTHROPIC], messages=messages)
    # Gemini takes a function's response as an object: text comes wrapped, as `content`.
    said = '{"content":"sunny"}' if model == GEMINI else "sunny"
    assert second.content[0].text == f"echo: tool said {said}"


# === errors, failover, credentials ===


@pytest.mark.parametrize("model", [GEMINI, NOVA])
def test_provider_errors_are_the_sdks_own_exceptions(env: Env, model: str) -> None:
    fake = env.fakes[model.split("/")[0]]
    fake.control(mode="rate_limit", retry_after=3, times=1)
    with pytest.raises(openai.RateLimitError) as raised:
        env.openai().chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    assert raised.value.body["type"] == "rate_limit_error"
    # Gemini says when to retry in its body (RetryInfo): agentmux gives the SDK a retry-after.
    # Bedrock says nothing of when.
    assert raised.value.response.headers.get("retry-after") == ("3" if model == GEMINI else None)
    fake.control(mode="fail", status=500, times=1)
    with pytest.raises(anthropic.InternalServerError) as raised:
        env.anthropic().messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert raised.value.body["error"]["type"] == "api_error"


def test_a_virtual_model_fails_over_from_gemini_to_bedrock(env: Env) -> None:
    env.fakes["gemini"].control(mode="fail", status=503, times=1)
    answer = env.openai().chat.completions.create(model="sturdy", messages=[{"role": "user", "content": "carry on"}])
    assert answer.choices[0].message.content == "echo: carry on"
    env.audit_of(NOVA, lambda r: [hop["outcome"] for hop in r["hops"]] == ["503", "200"])


def test_bedrock_requests_are_signed_and_keys_stay_in_agentmux(env: Env) -> None:
    env.openai().chat.completions.create(model=NOVA, messages=[{"role": "user", "content": "signed?"}])
    sent = last_request(env.fakes["bedrock"])
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={AWS_ID}/")
    assert f"/{REGION}/bedrock/aws4_request" in headers["authorization"]
    assert headers["x-amz-security-token"] == AWS_TOKEN
    assert AWS_SECRET not in json.dumps(sent)
    gemini_sent = env.fakes["gemini"].requests()
    assert all(AWS_TOKEN not in json.dumps(r) for r in gemini_sent)
    texts = [(env.config_dir / "audit.log").read_text(), env.hub.proc.stderr_path.read_text(errors="replace")]
    for secret in SECRETS:
        assert not any(secret in text for text in texts), "a provider credential was written down"


def test_a_short_retry_after_is_waited_out_when_configured(env: Env) -> None:
    fake = env.fakes["openai"]
    fake.control(mode="rate_limit", retry_after=1, times=1)
    started = time.monotonic()
    answer = env.openai().chat.completions.create(model="openai/gpt-4.1", messages=[{"role": "user", "content": "patience"}])
    assert answer.choices[0].message.content == "echo: patience"
    assert time.monotonic() - started >= 0.9, "agentmux waited for the second before asking again"
    env.audit_of("openai/gpt-4.1", lambda r: [hop["outcome"] for hop in r["hops"]] == ["429", "200"])
    fake.control(mode="rate_limit", retry_after=5, times=1)
    with pytest.raises(openai.RateLimitError) as raised:
        env.openai().chat.completions.create(model="openai/gpt-4.1", messages=[{"role": "user", "content": "x"}])
    assert raised.value.response.headers.get("retry-after") == "5", "longer than `wait`: the client's to wait"
    assert len(fake.requests()) == 3, "429, 200, then the 429 passed on"


def test_a_bedrock_api_key_is_sent_as_a_bearer_token_instead_of_a_signature(env: Env) -> None:
    answer = env.openai().chat.completions.create(
        model="bedrock-key/amazon.nova-lite-v1:0", messages=[{"role": "user", "content": "keyed"}])
    assert answer.choices[0].message.content == "echo: keyed"
    headers = {k.lower(): v for k, v in last_request(env.fakes["bedrock"])["headers"].items()}
    assert headers["authorization"] == f"Bearer {BEDROCK_API_KEY}"
    assert "x-amz-date" not in headers and "x-amz-security-token" not in headers


def test_anthropic_token_counts_reach_gemini(env: Env) -> None:
    counted = env.anthropic().messages.count_tokens(
        model=GEMINI, system="Be brief.", messages=[{"role": "user", "content": "count these four words"}])
    # The fake counts words: "Be brief." and the four.
    assert counted.input_tokens == 6
    sent = last_request(env.fakes["gemini"])
    assert sent["path"] == "/v1beta/models/gemini-2.5-flash:countTokens"
    inner = sent["body"]["generateContentRequest"]
    assert inner["model"] == "models/gemini-2.5-flash"
    assert inner["systemInstruction"]["parts"][0]["text"] == "Be brief."
