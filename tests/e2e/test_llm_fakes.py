"""The fake LLM providers (fixtures/llm/provider.py) are faithful: the official SDKs accept what
they serve, and their raw bytes have the providers' shapes. No agentmux here.

OpenAI and Anthropic are driven with their official Python SDKs (pinned in
scripts/test-deps/requirements.txt), and every body and stream event is also validated strictly
against the SDKs' own types, which the SDKs themselves only construct without checking. Gemini
and Bedrock, with no SDK pinned, are spoken to over httpx: Gemini's SSE is parsed by hand, and
Bedrock's requests are SigV4-signed and its event stream decoded (both CRCs checked) by the
helpers in llm_util, which are themselves checked against AWS's published signing test vectors.
Last, each control switch once (fail, rate_limit, stall, cut, slow, times) and /_requests.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import struct
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import anthropic
import httpx
import httpx2
import llm_util
import openai
import pytest
from anthropic.types import Message, MessageTokensCount, RawMessageStreamEvent
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response as OpenAIResponse
from openai.types.responses import ResponseStreamEvent
from pydantic import BaseModel, TypeAdapter

OPENAI_KEY = "sk-test-openai-0123456789"
AZURE_KEY = "azure-test-key-0123456789"
ANTHROPIC_KEY = "sk-ant-test-0123456789"
GEMINI_KEY = "AIza-test-gemini-key"
AWS_KEY_ID, AWS_SECRET = "AKIDFAKELLM", "fake/secret+key/for/the/bedrock/fake"
BEDROCK_MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
WEATHER_TOOL = {"name": "get_weather", "description": "Current weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
# 1×1 transparent PNG.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000" "1f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082")).decode()


def strict(adapter: Any, value: Any) -> Any:
    """Validates `value` (a dict, or an SDK object) against an SDK type, failing on any mismatch."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(adapter, type) and issubclass(adapter, BaseModel):
        return adapter.model_validate(value, strict=False)
    return TypeAdapter(adapter).validate_python(value)


# === the fakes, one per API for the module ===


def _fake(api: str, **flags: Any) -> Iterator[llm_util.Provider]:
    fake = llm_util.start_provider(api, **flags)
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[llm_util.Provider]:
    yield from _fake("openai", key=OPENAI_KEY, models=["gpt-4.1", "gpt-4.1-mini", "text-embedding-3-small"])


@pytest.fixture(scope="module")
def azure_fake() -> Iterator[llm_util.Provider]:
    yield from _fake("azure", key=AZURE_KEY, models=["gpt-4o", "text-embedding-3-small"])


@pytest.fixture(scope="module")
def anthropic_fake() -> Iterator[llm_util.Provider]:
    yield from _fake("anthropic", key=ANTHROPIC_KEY, models=["claude-sonnet-4-6", "claude-haiku-4-5"])


@pytest.fixture(scope="module")
def gemini_fake() -> Iterator[llm_util.Provider]:
    yield from _fake("gemini", key=GEMINI_KEY, models=["gemini-2.5-flash", "gemini-embedding-001"])


@pytest.fixture(scope="module")
def bedrock_fake() -> Iterator[llm_util.Provider]:
    yield from _fake("bedrock", key=f"{AWS_KEY_ID}:{AWS_SECRET}", models=[BEDROCK_MODEL, "amazon.nova-lite-v1:0"])


@pytest.fixture
def oai(openai_fake: llm_util.Provider) -> Iterator[openai.OpenAI]:
    openai_fake.clear()
    with openai.OpenAI(base_url=openai_fake.base_url, api_key=OPENAI_KEY, max_retries=0, timeout=10) as client:
        yield client


@pytest.fixture
def claude(anthropic_fake: llm_util.Provider) -> Iterator[anthropic.Anthropic]:
    anthropic_fake.clear()
    with anthropic.Anthropic(base_url=anthropic_fake.base_url, api_key=ANTHROPIC_KEY, max_retries=0, timeout=10) as client:
        yield client


# === OpenAI: chat completions ===


def test_openai_chat_completion_is_a_valid_chat_completion(oai: openai.OpenAI) -> None:
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-4.1", n=2, messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}])
    assert raw.headers["x-request-id"].startswith("req_")
    assert raw.headers["x-ratelimit-remaining-requests"]
    body = strict(ChatCompletion, raw.http_response.json())
    completion = raw.parse()
    assert body.object == "chat.completion" and completion.id.startswith("chatcmpl-")
    assert [c.message.content for c in completion.choices] == ["echo: hello there"] * 2
    assert [c.index for c in completion.choices] == [0, 1]
    assert completion.choices[0].finish_reason == "stop" and completion.choices[0].message.tool_calls is None
    assert completion.usage is not None
    # prompt: "Be brief." + "hello there" = 4 words; completion: 3 words per choice.
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (4, 6, 10)


def test_openai_stream_with_usage_ends_in_a_usage_chunk_and_done(oai: openai.OpenAI, openai_fake: llm_util.Provider) -> None:
    text = "one two three four five six seven"
    chunks = list(oai.chat.completions.create(model="gpt-4.1", stream=True, stream_options={"include_usage": True},
                                              messages=[{"role": "user", "content": text}]))
    for c in chunks:
        strict(ChatCompletionChunk, c)
    *body, last = chunks
    assert last.choices == [] and last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (7, 8)
    assert all(c.usage is None for c in body)
    assert body[0].choices[0].delta.role == "assistant"
    deltas = [c.choices[0].delta.content for c in body if c.choices[0].delta.content]
    assert len(deltas) == 4 and "".join(deltas) == f"echo: {text}"
    assert body[-1].choices[0].finish_reason == "stop" and body[-1].choices[0].delta.content is None
    assert len({c.id for c in chunks}) == 1

    # On the wire: `data: {...}` events and a final `data: [DONE]`, nothing after it.
    with httpx.stream("POST", openai_fake.base_url + "/chat/completions", timeout=10,
                      headers={"authorization": f"Bearer {OPENAI_KEY}"},
                      json={"model": "gpt-4.1", "stream": True, "messages": [{"role": "user", "content": "hi"}]}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = list(llm_util.sse_events(r.iter_lines()))
    assert events[-1].data == "[DONE]" and all(e.event is None for e in events)
    assert "usage" not in events[0].json()


def test_openai_streamed_tool_call_round_trip(oai: openai.OpenAI) -> None:
    tools = [{"type": "function", "function": WEATHER_TOOL}]
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Rome today?"}]
    with oai.chat.completions.stream(model="gpt-4.1", messages=messages, tools=tools) as stream:
        events = list(stream)
        final = stream.get_final_completion()
    arg_deltas = [e.arguments_delta for e in events if e.type == "tool_calls.function.arguments.delta"]
    assert len(arg_deltas) >= 2, "arguments must arrive in several deltas"
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Rome"}
    # Raw deltas carry index, then id/type/name once, then argument pieces only.
    raw_calls = [c.choices[0].delta.tool_calls for e in events if e.type == "chunk" for c in [e.chunk]
                 if c.choices and c.choices[0].delta.tool_calls]
    assert raw_calls[0][0].id == call.id and raw_calls[0][0].function.name == "get_weather"
    assert all(tc[0].index == 0 and tc[0].id is None for tc in raw_calls[1:])

    messages += [{"role": "assistant", "content": None, "tool_calls": [call.model_dump(exclude_none=True)]},
                 {"role": "tool", "tool_call_id": call.id, "content": "22C and sunny"}]
    again = oai.chat.completions.create(model="gpt-4.1", messages=messages, tools=tools)
    assert again.choices[0].message.content == "echo: tool said 22C and sunny"

    forced = oai.chat.completions.create(model="gpt-4.1", tools=tools, messages=[{"role": "user", "content": "hi"}],
                                         tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert (forced.choices[0].message.tool_calls or [])[0].function.arguments == '{"city":"Paris"}'
    none = oai.chat.completions.create(model="gpt-4.1", tools=tools, tool_choice="none",
                                       messages=[{"role": "user", "content": "weather?"}])
    assert none.choices[0].message.content == "echo: weather?"


def test_openai_logprobs_json_formats_and_limits(oai: openai.OpenAI) -> None:
    lp = oai.chat.completions.create(model="gpt-4.1", logprobs=True, top_logprobs=2,
                                     messages=[{"role": "user", "content": "a b c"}])
    tokens = (lp.choices[0].logprobs.content or []) if lp.choices[0].logprobs else []
    assert "".join(t.token for t in tokens) == "echo: a b c"
    assert all(len(t.top_logprobs) == 2 and t.bytes == list(t.token.encode()) for t in tokens)

    class City(BaseModel):
        name: str
        population: int

    parsed = oai.chat.completions.parse(model="gpt-4.1", response_format=City,
                                        messages=[{"role": "user", "content": "Name a city"}])
    assert parsed.choices[0].message.parsed == City(name="echo: Name a city", population=0)
    obj = oai.chat.completions.create(model="gpt-4.1", response_format={"type": "json_object"},
                                      messages=[{"role": "user", "content": "answer in json"}])
    assert json.loads(obj.choices[0].message.content or "") == {"echo": "answer in json"}
    with pytest.raises(openai.BadRequestError, match="must contain the word 'json'"):
        oai.chat.completions.create(model="gpt-4.1", response_format={"type": "json_object"},
                                    messages=[{"role": "user", "content": "hi"}])

    cut = oai.chat.completions.create(model="gpt-4.1", max_completion_tokens=2,
                                      messages=[{"role": "user", "content": "one two three"}])
    assert (cut.choices[0].message.content, cut.choices[0].finish_reason) == ("echo: one", "length")
    stopped = oai.chat.completions.create(model="gpt-4.1", stop=["two"], messages=[{"role": "user", "content": "one two"}])
    assert (stopped.choices[0].message.content, stopped.choices[0].finish_reason) == ("echo: one ", "stop")


@pytest.mark.parametrize(("messages", "extra", "param", "code"), [
    ([], {}, "messages", "empty_array"),
    ([{"role": "bot", "content": "x"}], {}, "messages[0].role", "invalid_value"),
    ([{"role": "tool", "tool_call_id": "call_x", "content": "x"}], {}, "messages.[0].role", None),
    ([{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
      {"role": "user", "content": "y"}], {}, "messages.[1].role", None),
    ([{"role": "user", "content": "x"}], {"stream_options": {"include_usage": True}}, "stream_options", None),
    ([{"role": "user", "content": "x"}], {"n": 0}, "n", "integer_out_of_range"),
    ([{"role": "user", "content": "x"}], {"tool_choice": "required"}, "tool_choice", None),
], ids=["empty", "role", "orphan-tool", "unanswered-call", "stream-options", "n", "tool-choice"])
def test_openai_rejects_what_openai_rejects(oai: openai.OpenAI, messages: Any, extra: dict[str, Any], param: str,
                                            code: str | None) -> None:
    with pytest.raises(openai.BadRequestError) as e:
        oai.chat.completions.create(model="gpt-4.1", messages=messages, **extra)
    assert e.value.status_code == 400
    assert set(e.value.body) == {"message", "type", "param", "code"}  # type: ignore[arg-type]
    assert (e.value.type, e.value.param, e.value.code) == ("invalid_request_error", param, code)


def test_openai_auth_model_and_unknown_fields(oai: openai.OpenAI, openai_fake: llm_util.Provider) -> None:
    with openai.OpenAI(base_url=openai_fake.base_url, api_key="sk-wrong-key-000000", max_retries=0) as wrong:
        with pytest.raises(openai.AuthenticationError) as e:
            wrong.models.list()
    assert e.value.code == "invalid_api_key" and "sk-wrong-key-000000" not in str(e.value.body)
    r = httpx.post(openai_fake.base_url + "/chat/completions", json={})
    assert r.status_code == 401 and r.json()["error"]["message"].startswith("You didn't provide an API key")
    with pytest.raises(openai.NotFoundError) as nf:
        oai.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    assert nf.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError, match="Unrecognized request argument supplied: banana"):
        oai.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "x"}], extra_body={"banana": 1})
    r = httpx.post(openai_fake.base_url + "/nope", headers={"authorization": f"Bearer {OPENAI_KEY}"})
    assert r.status_code == 404 and r.json()["error"]["message"] == "Invalid URL (POST /v1/nope)"


def test_openai_embeddings_float_base64_and_sdk_default(oai: openai.OpenAI) -> None:
    floats = oai.embeddings.create(model="text-embedding-3-small", input=["alpha beta", "gamma"], encoding_format="float")
    strict(CreateEmbeddingResponse, floats)
    assert [d.index for d in floats.data] == [0, 1] and len(floats.data[0].embedding) == 1536
    assert (floats.usage.prompt_tokens, floats.usage.total_tokens) == (3, 3)
    raw = oai.embeddings.create(model="text-embedding-3-small", input="alpha beta", encoding_format="base64")
    packed = base64.b64decode(raw.data[0].embedding)  # type: ignore[arg-type]
    assert list(struct.unpack(f"<{len(packed) // 4}f", packed)) == floats.data[0].embedding
    # Without a format the SDK asks for base64 and decodes it itself.
    default = oai.embeddings.create(model="text-embedding-3-small", input="alpha beta", dimensions=8)
    assert len(default.data[0].embedding) == 8 and all(isinstance(v, float) for v in default.data[0].embedding)
    assert abs(sum(v * v for v in default.data[0].embedding) - 1) < 1e-5
    with pytest.raises(openai.BadRequestError, match=r"'\$.input' is invalid"):
        oai.embeddings.create(model="text-embedding-3-small", input="")


def test_openai_models(oai: openai.OpenAI) -> None:
    assert [m.id for m in oai.models.list()] == ["gpt-4.1", "gpt-4.1-mini", "text-embedding-3-small"]
    assert oai.models.retrieve("gpt-4.1").owned_by == "system"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gpt-9")


# === OpenAI: Responses ===


def test_openai_responses_stream_and_function_calls(oai: openai.OpenAI, openai_fake: llm_util.Provider) -> None:
    plain = oai.responses.create(model="gpt-4.1", input="hello there", instructions="Be brief.")
    strict(OpenAIResponse, plain)
    assert plain.output_text == "echo: hello there" and plain.status == "completed"
    assert plain.usage is not None and (plain.usage.input_tokens, plain.usage.output_tokens) == (4, 3)

    with oai.responses.stream(model="gpt-4.1", input="one two three four") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert final.output_text == "echo: one two three four" and final.id != plain.id
    kinds = [e.type for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert kinds.count("response.output_text.delta") == 4
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]

    # Raw: every event is a valid typed event, named in `event:`, numbered from 0, no [DONE].
    with httpx.stream("POST", openai_fake.base_url + "/responses", timeout=10, headers={"authorization": f"Bearer {OPENAI_KEY}"},
                      json={"model": "gpt-4.1", "input": "weather in Oslo?", "stream": True,
                            "tools": [{"type": "function", **WEATHER_TOOL}]}) as r:
        raw = list(llm_util.sse_events(r.iter_lines()))
    parsed = [strict(ResponseStreamEvent, e.json()) for e in raw]
    assert [e.event for e in raw] == [p.type for p in parsed]
    assert [p.sequence_number for p in parsed] == list(range(len(parsed)))
    args = "".join(p.delta for p in parsed if p.type == "response.function_call_arguments.delta")
    assert args == '{"city":"Oslo"}' and sum(p.type == "response.function_call_arguments.delta" for p in parsed) >= 2
    done = parsed[-1]
    assert done.type == "response.completed"
    call = done.response.output[0]
    assert call.type == "function_call" and call.name == "get_weather" and call.arguments == args

    follow = oai.responses.create(model="gpt-4.1", previous_response_id=done.response.id,
                                  input=[{"type": "function_call_output", "call_id": call.call_id, "output": "cold"}])
    assert follow.output_text == "echo: tool said cold"
    with pytest.raises(openai.BadRequestError, match="No tool call found"):
        oai.responses.create(model="gpt-4.1", input=[{"type": "function_call_output", "call_id": "call_x", "output": "x"}])


# === Azure OpenAI ===


def test_azure_client_against_the_azure_fake(azure_fake: llm_util.Provider) -> None:
    azure_fake.clear()
    with openai.AzureOpenAI(azure_endpoint=azure_fake.url, api_key=AZURE_KEY, api_version="2024-10-21",
                            max_retries=0) as client:
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        body = raw.http_response.json()
        strict(ChatCompletion, body)
        assert body["choices"][0]["message"]["content"] == "echo: hi"
        assert body["prompt_filter_results"][0]["content_filter_results"]["hate"] == {"filtered": False, "severity": "safe"}
        (seen,) = azure_fake.requests()
        assert seen["path"] == "/openai/deployments/gpt-4o/chat/completions" and seen["query"] == {"api-version": "2024-10-21"}
        assert seen["headers"]["api-key"] == AZURE_KEY and "authorization" not in seen["headers"]

        chunks = list(client.chat.completions.create(model="gpt-4o", stream=True, messages=[{"role": "user", "content": "a b c"}]))
        assert chunks[0].choices == [] and chunks[0].id == ""  # Azure's prompt-filter preamble
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: a b c"
        emb = client.embeddings.create(model="text-embedding-3-small", input="x", encoding_format="float")
        assert len(emb.data[0].embedding) == 1536

        with pytest.raises(openai.NotFoundError) as nf:
            client.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "x"}])
        assert nf.value.code == "DeploymentNotFound"
        with openai.AzureOpenAI(azure_endpoint=azure_fake.url, api_key="wrong", api_version="2024-10-21", max_retries=0) as bad:
            with pytest.raises(openai.AuthenticationError):
                bad.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    url = azure_fake.url + "/openai/deployments/gpt-4o/chat/completions"
    payload = {"messages": [{"role": "user", "content": "x"}]}
    missing = httpx.post(url, headers={"api-key": AZURE_KEY}, json=payload)
    assert (missing.status_code, missing.json()) == (404, {"error": {"code": "404", "message": "Resource not found"}})
    unsupported = httpx.post(url + "?api-version=1999-01-01", headers={"api-key": AZURE_KEY}, json=payload)
    assert unsupported.status_code == 400 and unsupported.json()["error"]["message"] == "API version not supported"
    v1 = httpx.post(azure_fake.url + "/openai/v1/chat/completions", headers={"api-key": AZURE_KEY},
                    json={"model": "gpt-4o", **payload})
    assert v1.status_code == 200 and v1.json()["choices"][0]["message"]["content"] == "echo: x"


# === Anthropic ===


def test_anthropic_message_is_a_valid_message(claude: anthropic.Anthropic) -> None:
    raw = claude.messages.with_raw_response.create(
        model="claude-sonnet-4-6", max_tokens=100, system=[{"type": "text", "text": "Be brief."}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "hello there"},
                                               {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}])
    assert raw.headers["request-id"].startswith("req_")
    message = strict(Message, raw.http_response.json())
    assert message.id.startswith("msg_") and message.stop_reason == "end_turn" and message.stop_sequence is None
    assert [(b.type, b.text) for b in message.content] == [("text", "echo: hello there")]  # type: ignore[union-attr]
    assert (message.usage.input_tokens, message.usage.output_tokens) == (4, 3)
    counted = claude.messages.count_tokens(model="claude-sonnet-4-6", system=[{"type": "text", "text": "Be brief."}],
                                           messages=[{"role": "user", "content": "hello there"}])
    strict(MessageTokensCount, counted)
    assert counted.input_tokens == 4


def test_anthropic_stream_has_the_real_event_sequence(claude: anthropic.Anthropic, anthropic_fake: llm_util.Provider) -> None:
    with claude.messages.stream(model="claude-sonnet-4-6", max_tokens=100,
                                messages=[{"role": "user", "content": "one two three four five"}]) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) == 4 and "".join(pieces) == "echo: one two three four five"
    assert final.content[0].text == "echo: one two three four five"  # type: ignore[union-attr]
    assert (final.stop_reason, final.usage.input_tokens, final.usage.output_tokens) == ("end_turn", 5, 6)

    with httpx.stream("POST", anthropic_fake.url + "/v1/messages", timeout=10,
                      headers={"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01"},
                      json={"model": "claude-sonnet-4-6", "max_tokens": 100, "stream": True,
                            "messages": [{"role": "user", "content": "hi there"}]}) as r:
        raw = list(llm_util.sse_events(r.iter_lines()))
    assert [e.event for e in raw] == [e.json()["type"] for e in raw]
    kinds = [e.event for e in raw]
    assert kinds == ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
                     "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    for e in raw:
        if e.event != "ping":
            strict(RawMessageStreamEvent, e.json())
    start, delta = raw[0].json(), raw[-2].json()
    assert start["message"]["content"] == [] and start["message"]["stop_reason"] is None
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None} and delta["usage"]["output_tokens"] == 3


def test_anthropic_tool_use_stream_and_tool_result(claude: anthropic.Anthropic) -> None:
    tools: list[Any] = [{"name": "get_weather", "description": "weather", "input_schema": WEATHER_TOOL["parameters"]}]
    messages: list[Any] = [{"role": "user", "content": "What's the weather in Oslo?"}]
    with claude.messages.stream(model="claude-sonnet-4-6", max_tokens=100, tools=tools, messages=messages) as stream:
        events = list(stream)
        final = stream.get_final_message()
    json_deltas = [e for e in events if e.type == "input_json"]
    assert len(json_deltas) >= 2
    assert final.stop_reason == "tool_use"
    (use,) = final.content
    assert use.type == "tool_use" and use.name == "get_weather" and use.input == {"city": "Oslo"}
    assert use.id.startswith("toolu_01")

    messages += [{"role": "assistant", "content": [use.model_dump(exclude_none=True)]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "-3C, snow"}]}]
    again = claude.messages.create(model="claude-sonnet-4-6", max_tokens=100, tools=tools, messages=messages)
    assert again.content[0].text == "echo: tool said -3C, snow"  # type: ignore[union-attr]
    with pytest.raises(anthropic.BadRequestError, match="`tool_use` ids were found without `tool_result`"):
        claude.messages.create(model="claude-sonnet-4-6", max_tokens=100, tools=tools,
                               messages=messages[:2] + [{"role": "user", "content": "hm"}])
    with pytest.raises(anthropic.BadRequestError, match="unexpected `tool_use_id`"):
        claude.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=[
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "x"}]}])


def test_anthropic_thinking_is_signed_and_must_come_back_unchanged(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(model="claude-sonnet-4-6", max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024},
                                messages=[{"role": "user", "content": "think"}]) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_message()
    assert "thinking" in kinds and "signature" in kinds
    thought, text = final.content
    assert thought.type == "thinking" and thought.thinking == "The user wrote: think" and thought.signature
    assert text.type == "text" and text.text == "echo: think"
    history: list[Any] = [{"role": "user", "content": "think"},
                          {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]},
                          {"role": "user", "content": "again"}]
    ok = claude.messages.create(model="claude-sonnet-4-6", max_tokens=2048, messages=history,
                                thinking={"type": "enabled", "budget_tokens": 1024})
    assert ok.content[-1].text == "echo: again"  # type: ignore[union-attr]
    history[1]["content"][0]["thinking"] = "tampered"
    with pytest.raises(anthropic.BadRequestError, match="Invalid `signature`"):
        claude.messages.create(model="claude-sonnet-4-6", max_tokens=2048, messages=history)
    with pytest.raises(anthropic.BadRequestError, match="budget_tokens"):
        claude.messages.create(model="claude-sonnet-4-6", max_tokens=1024, messages=history[:1],
                               thinking={"type": "enabled", "budget_tokens": 1024})


def test_anthropic_errors_have_the_anthropic_shape(claude: anthropic.Anthropic, anthropic_fake: llm_util.Provider) -> None:
    url = anthropic_fake.url + "/v1/messages"
    good = {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
    headers = {"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01"}
    cases = [
        ({"x-api-key": ANTHROPIC_KEY}, good, 400, "invalid_request_error", "anthropic-version: header is required"),
        ({"anthropic-version": "2023-06-01"}, good, 401, "authentication_error", "x-api-key header is required"),
        ({**headers, "x-api-key": "nope"}, good, 401, "authentication_error", "invalid x-api-key"),
        (headers, {k: v for k, v in good.items() if k != "max_tokens"}, 400, "invalid_request_error", "max_tokens: Field required"),
        (headers, {**good, "messages": [{"role": "system", "content": "x"}]}, 400, "invalid_request_error",
         "messages.0.role: Input should be 'user' or 'assistant'"),
        (headers, {**good, "n": 2}, 400, "invalid_request_error", "n: Extra inputs are not permitted"),
        (headers, {**good, "model": "gpt-4.1"}, 404, "not_found_error", "model: gpt-4.1"),
    ]
    for h, body, status, kind, message in cases:
        r = httpx.post(url, headers=h, json=body)
        assert r.status_code == status, (message, r.text)
        got = r.json()
        assert got["type"] == "error" and got["error"] == {"type": kind, "message": message}
        assert got["request_id"] == r.headers["request-id"]
    with anthropic.Anthropic(base_url=anthropic_fake.base_url, api_key="sk-ant-wrong", max_retries=0) as wrong:
        with pytest.raises(anthropic.AuthenticationError) as auth:
            wrong.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert auth.value.type == "authentication_error" and auth.value.request_id
    bad_png = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(b"GIF89a").decode()}}
    with pytest.raises(anthropic.BadRequestError, match="image/png media type"):
        claude.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": [bad_png]}])


# === Gemini (raw HTTP) ===


def gemini_url(fake: llm_util.Provider, model: str, method: str) -> str:
    return f"{fake.url}/v1beta/models/{model}:{method}"


def test_gemini_generate_and_stream(gemini_fake: llm_util.Provider) -> None:
    gemini_fake.clear()
    body = {"systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [{"role": "user", "parts": [{"text": "one two three four"}]}],
            "generationConfig": {"temperature": 0.2}}
    r = httpx.post(gemini_url(gemini_fake, "gemini-2.5-flash", "generateContent"), json=body,
                   headers={"x-goog-api-key": GEMINI_KEY})
    assert r.status_code == 200, r.text
    got = r.json()
    (candidate,) = got["candidates"]
    assert candidate["content"] == {"parts": [{"text": "echo: one two three four"}], "role": "model"}
    assert candidate["finishReason"] == "STOP" and got["modelVersion"] == "gemini-2.5-flash" and got["responseId"]
    assert {k: got["usageMetadata"][k] for k in ("promptTokenCount", "candidatesTokenCount", "totalTokenCount")} == \
        {"promptTokenCount": 6, "candidatesTokenCount": 5, "totalTokenCount": 11}
    cached = httpx.post(gemini_url(gemini_fake, "gemini-2.5-flash", "generateContent") + f"?key={GEMINI_KEY}",
                        json={**body, "cachedContent": "cachedContents/abc"}).json()["usageMetadata"]
    assert cached["cachedContentTokenCount"] == 32 and cached["promptTokenCount"] == 6 + 32

    with httpx.stream("POST", gemini_url(gemini_fake, "gemini-2.5-flash", "streamGenerateContent") + "?alt=sse",
                      json=body, headers={"x-goog-api-key": GEMINI_KEY}, timeout=10) as s:
        assert s.headers["content-type"].startswith("text/event-stream")
        text = s.read().decode()
    assert "\r\n\r\n" in text
    events = [e.json() for e in llm_util.sse_events(llm_util.split_lines(text))]
    assert len(events) == 4
    assert "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in events) == "echo: one two three four"
    assert [("finishReason" in e["candidates"][0]) for e in events] == [False, False, False, True]
    assert events[-1]["usageMetadata"]["candidatesTokenCount"] == 5 and len({e["responseId"] for e in events}) == 1

    array = httpx.post(gemini_url(gemini_fake, "gemini-2.5-flash", "streamGenerateContent"), json=body,
                       headers={"x-goog-api-key": GEMINI_KEY}).json()
    assert [c["candidates"][0]["content"] for c in array] == [e["candidates"][0]["content"] for e in events]


def test_gemini_function_calls_and_errors(gemini_fake: llm_util.Provider) -> None:
    gemini_fake.clear()
    url = gemini_url(gemini_fake, "gemini-2.5-flash", "generateContent")
    headers = {"x-goog-api-key": GEMINI_KEY}
    tools = [{"functionDeclarations": [{"name": "get_weather", "parameters": WEATHER_TOOL["parameters"]}]}]
    ask = {"role": "user", "parts": [{"text": "weather in Lima?"}]}
    call = httpx.post(url, headers=headers, json={"contents": [ask], "tools": tools}).json()["candidates"][0]
    assert call["content"]["parts"] == [{"functionCall": {"name": "get_weather", "args": {"city": "Lima"}}}]
    answer = {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": "18C"}}}]}
    reply = httpx.post(url, headers=headers, json={"contents": [ask, call["content"], answer], "tools": tools}).json()
    assert reply["candidates"][0]["content"]["parts"][0]["text"] == 'echo: tool said {"temp":"18C"}'

    def error(r: httpx.Response) -> tuple[int, str, str]:
        e = r.json()["error"]
        assert e["code"] == r.status_code
        return r.status_code, e["status"], e["message"]

    assert error(httpx.post(url, json={"contents": [ask]}))[:2] == (403, "PERMISSION_DENIED")
    bad_key = httpx.post(url, headers={"x-goog-api-key": "nope"}, json={"contents": [ask]})
    assert error(bad_key) == (400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
    assert bad_key.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    assert error(httpx.post(url, headers=headers, json={"contents": []}))[:2] == (400, "INVALID_ARGUMENT")
    unknown = error(httpx.post(url, headers=headers, json={"contents": [ask], "messages": []}))
    assert unknown[2] == 'Invalid JSON payload received. Unknown name "messages": Cannot find field.'
    missing = error(httpx.post(gemini_url(gemini_fake, "gemini-9", "generateContent"), headers=headers, json={"contents": [ask]}))
    assert missing[:2] == (404, "NOT_FOUND") and "models/gemini-9 is not found" in missing[2]

    embed = httpx.post(gemini_url(gemini_fake, "gemini-embedding-001", "embedContent"), headers=headers,
                       json={"content": {"parts": [{"text": "x"}]}, "outputDimensionality": 16}).json()
    assert len(embed["embedding"]["values"]) == 16
    batch = httpx.post(gemini_url(gemini_fake, "gemini-embedding-001", "batchEmbedContents"), headers=headers, json={
        "requests": [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": t}]}} for t in ("x", "y")]}).json()
    assert len(batch["embeddings"]) == 2 and len(batch["embeddings"][0]["values"]) == 3072


# === Bedrock (SigV4 + event stream) ===

# AWS's SigV4 test suite (credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
# us-east-1, service "service", 2015-08-30T12:36:00Z, host example.amazonaws.com).
SIGV4_VECTORS = [
    ("get-vanilla", "GET", "/", {}, b"", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("post-vanilla", "POST", "/", {}, b"", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ("get-vanilla-query-order-key-case", "GET", "/?Param2=value2&Param1=value1", {}, b"",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("get-header-value-trim", "GET", "/", {"My-Header1": "value1", "My-Header2": '"a   b   c"'}, b"",
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
    ("post-x-www-form-urlencoded", "POST", "/", {"Content-Type": "application/x-www-form-urlencoded"}, b"Param1=value1",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
]
VECTOR_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=timezone.utc)
VECTOR_KEYS = {"access_key": "AKIDEXAMPLE", "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}


def fake_sigv4() -> Any:
    spec = importlib.util.spec_from_file_location("llm_fake_sigv4", llm_util.PROVIDER_PY.parent / "sigv4.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("name", "method", "target", "headers", "body", "signature"), SIGV4_VECTORS,
                         ids=[v[0] for v in SIGV4_VECTORS])
def test_both_sigv4_sides_match_the_aws_test_suite(name: str, method: str, target: str, headers: dict[str, str],
                                                   body: bytes, signature: str) -> None:
    signed = llm_util.sigv4_headers(method, "https://example.amazonaws.com" + target, body, region="us-east-1",
                                    service="service", headers=headers, when=VECTOR_TIME, **VECTOR_KEYS)
    assert signed["authorization"].endswith(f"Signature={signature}")
    sigv4 = fake_sigv4()
    creds = sigv4.Credentials("AKIDEXAMPLE", VECTOR_KEYS["secret_key"])
    path, _, query = target.partition("?")
    wire = list(headers.items()) + list(signed.items())
    assert sigv4.verify(method, path, query, wire, body, creds, "service", now=VECTOR_TIME) == "us-east-1"
    forged = [(k, v[:-1] + ("0" if v[-1] != "0" else "1")) if k == "authorization" else (k, v) for k, v in wire]
    with pytest.raises(sigv4.SignatureError, match="does not match"):
        sigv4.verify(method, path, query, forged, body, creds, "service", now=VECTOR_TIME)


def converse_url(fake: llm_util.Provider, model: str = BEDROCK_MODEL, stream: bool = False) -> str:
    # Model ids are sent percent-encoded (":" → %3A), as the AWS SDKs send them.
    return f"{fake.url}/model/{model.replace(':', '%3A')}/converse{'-stream' if stream else ''}"


def converse(fake: llm_util.Provider, body: Any, *, stream: bool = False, model: str = BEDROCK_MODEL,
             **sign: Any) -> httpx.Response:
    keys = {"access_key": AWS_KEY_ID, "secret_key": AWS_SECRET, **sign}
    return llm_util.bedrock_post(converse_url(fake, model, stream), body, **keys)


def test_bedrock_converse_behind_sigv4(bedrock_fake: llm_util.Provider) -> None:
    bedrock_fake.clear()
    body = {"system": [{"text": "Be brief."}], "messages": [{"role": "user", "content": [{"text": "hello there"}]}],
            "inferenceConfig": {"maxTokens": 100, "temperature": 0.5}}
    r = converse(bedrock_fake, body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["output"] == {"message": {"role": "assistant", "content": [{"text": "echo: hello there"}]}}
    assert got["stopReason"] == "end_turn" and got["usage"] == {"inputTokens": 4, "outputTokens": 3, "totalTokens": 7}
    assert got["metrics"]["latencyMs"] >= 1 and r.headers["x-amzn-RequestId"]
    (seen,) = bedrock_fake.requests()
    assert seen["raw_path"] == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"

    def rejected(r: httpx.Response) -> tuple[int, str, str]:
        return r.status_code, r.headers["x-amzn-ErrorType"].split(":")[0], r.json()["message"]

    assert rejected(converse(bedrock_fake, body, secret_key="wrong"))[:2] == (403, "InvalidSignatureException")
    assert rejected(converse(bedrock_fake, body, access_key="AKIDOTHER"))[:2] == (403, "UnrecognizedClientException")
    # S3's single-encoding rule is not Bedrock's: a path signed as sent must fail.
    assert rejected(converse(bedrock_fake, body, double_encode=False))[:2] == (403, "InvalidSignatureException")
    stale = rejected(converse(bedrock_fake, body, when=datetime.now(timezone.utc) - timedelta(minutes=10)))
    assert stale[1] == "InvalidSignatureException" and stale[2].startswith("Signature expired")
    unsigned = httpx.post(converse_url(bedrock_fake), json=body)
    assert rejected(unsigned) == (403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    wrong_service = llm_util.sigv4_headers("POST", converse_url(bedrock_fake), b"{}", access_key=AWS_KEY_ID,
                                           secret_key=AWS_SECRET, region="us-east-1", service="s3")
    assert rejected(httpx.post(converse_url(bedrock_fake), content=b"{}", headers=wrong_service))[2].startswith(
        "Credential should be scoped to correct service: 'bedrock'")

    first_assistant = {"messages": [{"role": "assistant", "content": [{"text": "x"}]}]}
    assert rejected(converse(bedrock_fake, first_assistant))[:2] == (400, "ValidationException")
    assert rejected(converse(bedrock_fake, body, model="nope.model-v1:0"))[2] == "The provided model identifier is invalid."


def test_bedrock_converse_stream_frames_and_tool_use(bedrock_fake: llm_util.Provider) -> None:
    bedrock_fake.clear()
    ask = {"role": "user", "content": [{"text": "one two three four five"}]}
    r = converse(bedrock_fake, {"messages": [ask]}, stream=True)
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.amazon.eventstream"
    frames = llm_util.decode_eventstream(r.content)
    assert all(f.headers[":message-type"] == "event" and f.headers[":content-type"] == "application/json" for f in frames)
    kinds = [f.headers[":event-type"] for f in frames]
    assert kinds == ["messageStart"] + ["contentBlockDelta"] * 4 + ["contentBlockStop", "messageStop", "metadata"]
    payloads = [f.json() for f in frames]
    assert all(isinstance(p.pop("p"), str) for p in payloads)  # Bedrock's padding
    assert payloads[0] == {"role": "assistant"}
    assert "".join(p["delta"]["text"] for p in payloads[1:5]) == "echo: one two three four five"
    assert payloads[-2] == {"stopReason": "end_turn"}
    assert payloads[-1]["usage"] == {"inputTokens": 5, "outputTokens": 6, "totalTokens": 11}
    with pytest.raises(llm_util.EventStreamError, match="CRC"):
        damaged = bytearray(r.content)
        damaged[20] ^= 0xFF
        llm_util.decode_eventstream(bytes(damaged))

    tools = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": WEATHER_TOOL["parameters"]}}}]}
    weather = {"role": "user", "content": [{"text": "weather please"}]}
    r = converse(bedrock_fake, {"messages": [weather], "toolConfig": tools}, stream=True)
    frames = llm_util.decode_eventstream(r.content)
    payloads = [f.json() for f in frames]
    start = next(p for f, p in zip(frames, payloads) if f.headers[":event-type"] == "contentBlockStart")
    use = start["start"]["toolUse"]
    assert use["name"] == "get_weather" and use["toolUseId"].startswith("tooluse_")
    pieces = [p["delta"]["toolUse"]["input"] for p in payloads if "toolUse" in p.get("delta", {})]
    assert len(pieces) >= 2 and json.loads("".join(pieces)) == {"city": "Paris"}
    assert {"stopReason": "tool_use"} in [{k: v for k, v in p.items() if k != "p"} for p in payloads]

    result = {"role": "user", "content": [{"toolResult": {"toolUseId": use["toolUseId"], "content": [{"json": {"t": 9}}]}}]}
    call = {"role": "assistant", "content": [{"toolUse": {"toolUseId": use["toolUseId"], "name": "get_weather",
                                                          "input": {"city": "Paris"}}}]}
    again = converse(bedrock_fake, {"messages": [weather, call, result], "toolConfig": tools}).json()
    assert again["output"]["message"]["content"] == [{"text": 'echo: tool said {"t":9}'}]


# === control switches (one API each is enough: the plumbing is shared) ===


def test_fail_and_times_revert_to_ok(oai: openai.OpenAI, openai_fake: llm_util.Provider) -> None:
    openai_fake.control(mode="fail", status=500, times=2)
    msg = [{"role": "user", "content": "x"}]
    for _ in range(2):
        with pytest.raises(openai.InternalServerError) as e:
            oai.chat.completions.create(model="gpt-4.1", messages=msg)
        assert e.value.status_code == 500 and e.value.type == "server_error"
    assert oai.chat.completions.create(model="gpt-4.1", messages=msg).choices[0].message.content == "echo: x"
    assert openai_fake.settings()["mode"] == "ok"


def test_rate_limits_carry_each_providers_headers(oai: openai.OpenAI, claude: anthropic.Anthropic,
                                                  openai_fake: llm_util.Provider, anthropic_fake: llm_util.Provider,
                                                  gemini_fake: llm_util.Provider) -> None:
    openai_fake.control(mode="rate_limit", retry_after=2, times=1)
    with pytest.raises(openai.RateLimitError) as e:
        oai.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "x"}])
    h = e.value.response.headers
    assert (h["retry-after"], h["retry-after-ms"], h["x-ratelimit-remaining-requests"]) == ("2", "2000", "0")
    assert e.value.code == "rate_limit_exceeded"

    anthropic_fake.control(mode="rate_limit", retry_after=1.5, times=1)
    with pytest.raises(anthropic.RateLimitError) as a:
        claude.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    h = a.value.response.headers
    assert h["retry-after"] == "2" and h["anthropic-ratelimit-requests-remaining"] == "0"
    assert a.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    anthropic_fake.control(mode="fail", status=529, times=1)
    with pytest.raises(anthropic.InternalServerError) as o:
        claude.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert o.value.status_code == 529 and o.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]

    gemini_fake.clear()
    gemini_fake.control(mode="rate_limit", retry_after=3, times=1)
    r = httpx.post(gemini_url(gemini_fake, "gemini-2.5-flash", "generateContent"), headers={"x-goog-api-key": GEMINI_KEY},
                   json={"contents": [{"parts": [{"text": "x"}]}]})
    assert r.status_code == 429 and r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"} in r.json()["error"]["details"]


def test_stall_holds_the_request_until_the_client_gives_up(oai: openai.OpenAI, openai_fake: llm_util.Provider) -> None:
    openai_fake.control(mode="stall", times=1)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        oai.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "x"}], timeout=0.5)
    assert 0.4 < time.monotonic() - started < 5
    assert oai.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "y"}]).choices[0].message.content == "echo: y"


def test_cut_drops_the_connection_mid_stream(oai: openai.OpenAI, claude: anthropic.Anthropic,
                                             openai_fake: llm_util.Provider, anthropic_fake: llm_util.Provider,
                                             bedrock_fake: llm_util.Provider) -> None:
    openai_fake.control(mode="cut", cut_after=3, times=2)
    got = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in oai.chat.completions.create(model="gpt-4.1", stream=True,
                                                 messages=[{"role": "user", "content": "a b c d e f"}]):
            got.append(chunk)
    assert len(got) == 3 and got[-1].choices[0].finish_reason is None
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "x"}])

    anthropic_fake.control(mode="cut", cut_after=2, times=1)
    seen = []
    # The anthropic SDK lets a broken stream's transport error through unwrapped.
    with pytest.raises((anthropic.APIConnectionError, httpx2.TransportError), match="incomplete chunked read"):
        with claude.messages.stream(model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "x y"}]) as s:
            seen.extend(e.type for e in s)
    assert seen == ["message_start", "content_block_start"]

    bedrock_fake.clear()
    bedrock_fake.control(mode="cut", cut_after=2, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        converse(bedrock_fake, {"messages": [{"role": "user", "content": [{"text": "x"}]}]}, stream=True)


def test_slow_spaces_out_stream_events(oai: openai.OpenAI, openai_fake: llm_util.Provider) -> None:
    openai_fake.control(mode="slow", delay=0.15, chunks=3, times=1)
    arrivals = []
    for _ in oai.chat.completions.create(model="gpt-4.1", stream=True, messages=[{"role": "user", "content": "a b c"}]):
        arrivals.append(time.monotonic())
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert len(arrivals) == 5 and min(gaps) > 0.1, gaps


def test_requests_log_what_arrived(oai: openai.OpenAI, openai_fake: llm_util.Provider) -> None:
    oai.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "logged"}])
    openai_fake.control(mode="ok")  # control calls are never recorded
    httpx.post(openai_fake.base_url + "/chat/completions", content=b"{not json", headers={"authorization": "Bearer x"})
    first, second = openai_fake.requests()
    assert (first["method"], first["path"], first["body"]["model"]) == ("POST", "/v1/chat/completions", "gpt-4.1-mini")
    assert first["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert first["body"]["messages"] == [{"role": "user", "content": "logged"}]
    assert second["body"] is None and second["body_text"] == "{not json"
    openai_fake.clear()
    assert openai_fake.requests() == []
    # A per-request mode, not counted against `times`.
    r = httpx.post(openai_fake.base_url + "/chat/completions", headers={"authorization": f"Bearer {OPENAI_KEY}",
                   "x-fake-mode": "fail"}, json={"model": "gpt-4.1", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
