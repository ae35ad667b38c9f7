"""OpenAI's Responses API behind agentmux for providers that do not speak it: the official `openai`
SDK on `/v1/responses` (`client.responses.create`, streamed and not, and the
`client.responses.stream` helper) reaching an Anthropic fake, an OpenAI-compatible one and a
Gemini one through translation (fixtures/llm/provider.py), and an `openai` entry as it is.

Each test asks for what a user would see: the answer's text and usage, a stream whose text
deltas make the answer and whose last event is the whole response, a function call that
round-trips through `function_call_output`, JSON-schema output, and a request that needs stored
state refused as the SDK's own exception before any provider is asked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import harness
import llm_util
import openai
import pytest

CLAUDE = "claude/claude-sonnet-4-5"
COMPAT = "compat/gpt-4.1"
GEMINI = "gemini/gemini-2.5-flash"
TRANSLATED = [CLAUDE, COMPAT, GEMINI]
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


class Env(NamedTuple):
    hub: harness.Hub
    fakes: dict[str, llm_util.Provider]
    key: str

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.hub.url("/v1"), api_key=self.key, max_retries=0, timeout=20)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    logs = tmp_path_factory.mktemp("llm-responses-fakes")
    fakes: dict[str, llm_util.Provider] = {}
    hub = None
    try:
        fakes["claude"] = llm_util.start_provider("anthropic", log_dir=logs, name="fake-anthropic")
        fakes["compat"] = llm_util.start_provider("openai", log_dir=logs, name="fake-compat")
        fakes["gemini"] = llm_util.start_provider("gemini", log_dir=logs, name="fake-gemini")
        fakes["openai"] = llm_util.start_provider("openai", log_dir=logs, name="fake-openai")
        config_dir = tmp_path_factory.mktemp("llm-responses-hub")
        (config_dir / "provider.key").write_text("sk-fake-provider-key\n")
        key, key_hash = harness.new_key(config_dir, "dev", "eng")
        quick = {"first_byte": "3s", "total": "20s"}
        secret = "${file:../provider.key}"
        registry = {
            "claude": {"llm": {"provider": "anthropic", "url": fakes["claude"].base_url, "key": secret,
                               "models": ["claude-sonnet-4-5"]}, "timeouts": quick},
            "compat": {"llm": {"provider": "openai-compatible", "url": fakes["compat"].base_url, "key": secret,
                               "models": ["*"]}, "timeouts": quick},
            "gemini": {"llm": {"provider": "gemini", "url": fakes["gemini"].url, "key": secret,
                               "models": ["gemini-2.5-flash"]}, "timeouts": quick},
            "openai": {"llm": {"provider": "openai", "url": fakes["openai"].base_url, "key": secret,
                               "models": ["gpt-4.1"]}, "timeouts": quick},
        }
        settings = {"auth": {"api_keys": [{"name": "dev", "hash": key_hash, "groups": ["eng"]}]}}
        hub = harness.start_hub(config_dir, registry, name="agentmux-llm-responses", settings=settings)
        yield Env(hub, fakes, key)
    finally:
        if hub:
            hub.stop()
        for fake in fakes.values():
            fake.stop()


@pytest.fixture(autouse=True)
def clean(env: Env) -> None:
    for fake in env.fakes.values():
        fake.clear()


def provider_of(model: str) -> str:
    return model.split("/", 1)[0]


def last_request(fake: llm_util.Provider) -> dict[str, Any]:
    requests = fake.requests()
    assert requests, "the provider got no request"
    return requests[-1]


@pytest.mark.parametrize("model", TRANSLATED)
def test_a_text_answer_comes_back_as_a_response(env: Env, model: str) -> None:
    r = env.client().responses.create(model=model, instructions="Be brief.", input="Hello there friend")
    assert r.output_text == "echo: Hello there friend"
    assert r.status == "completed"
    assert r.model == model
    assert r.id.startswith("resp_")
    assert r.instructions == "Be brief."
    # The fake counts words: the instructions and the input in, the answer out.
    assert r.usage is not None
    assert (r.usage.input_tokens, r.usage.output_tokens) == (5, 4)
    assert r.usage.total_tokens == 9
    sent = last_request(env.fakes[provider_of(model)])
    assert "responses" not in sent["path"], "the provider got its own API"


def test_an_openai_entry_still_gets_the_responses_api_as_it_is(env: Env) -> None:
    r = env.client().responses.create(model="openai/gpt-4.1", input="Hello there")
    assert r.output_text == "echo: Hello there"
    assert last_request(env.fakes["openai"])["path"] == "/v1/responses"


@pytest.mark.parametrize("model", TRANSLATED)
def test_a_streamed_answer_arrives_as_responses_events(env: Env, model: str) -> None:
    events = list(env.client().responses.create(model=model, input="one two three four five six", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 1, "the text came in pieces"
    assert "".join(deltas) == "echo: one two three four five six"
    done = next(e for e in events if e.type == "response.output_text.done")
    assert done.text == "echo: one two three four five six"
    completed = events[-1].response
    assert completed.output_text == "echo: one two three four five six"
    assert completed.usage is not None
    assert (completed.usage.input_tokens, completed.usage.output_tokens) == (6, 7)
    assert completed.id == events[0].response.id


@pytest.mark.parametrize("model", [CLAUDE, COMPAT])
def test_the_stream_helper_gives_the_final_response(env: Env, model: str) -> None:
    with env.client().responses.stream(model=model, input="Hello helper") as stream:
        pieces = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(pieces) == final.output_text == "echo: Hello helper"


@pytest.mark.parametrize("model", TRANSLATED)
def test_a_function_call_round_trips(env: Env, model: str) -> None:
    client = env.client()
    question = {"role": "user", "content": "What is the weather in Rome?"}
    first = client.responses.create(model=model, input=[question], tools=[WEATHER])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    assert calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Rome"}
    history = [question, *(item.model_dump(exclude_none=True) for item in first.output)]
    history.append({"type": "function_call_output", "call_id": calls[0].call_id, "output": "18C and sunny"})
    second = client.responses.create(model=model, input=history, tools=[WEATHER])
    # Gemini takes a function's result as an object: the text goes under `content`.
    said = '{"content":"18C and sunny"}' if model == GEMINI else "18C and sunny"
    assert second.output_text == f"echo: tool said {said}"


@pytest.mark.parametrize("model", TRANSLATED)
def test_a_streamed_function_call_arrives_in_argument_pieces(env: Env, model: str) -> None:
    stream = env.client().responses.create(
        model=model, input="What is the weather in Oslo?", tools=[WEATHER], tool_choice="required", stream=True
    )
    events = list(stream)
    added = [e.item for e in events if e.type == "response.output_item.added" and e.item.type == "function_call"]
    assert [a.name for a in added] == ["get_weather"]
    pieces = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert json.loads(pieces) == json.loads(done.arguments) == {"city": "Oslo"}
    final = events[-1].response
    assert [item.type for item in final.output if item.type == "function_call"] == ["function_call"]
    assert final.output[-1].call_id == added[0].call_id


def test_a_json_schema_format_reaches_the_chat_provider(env: Env) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
              "additionalProperties": False}
    r = env.client().responses.create(
        model=COMPAT, input="Name a city",
        text={"format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}},
    )
    assert isinstance(json.loads(r.output_text)["city"], str)
    assert r.text is not None and r.text.format.type == "json_schema"
    sent = last_request(env.fakes["compat"])
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "city", "schema": schema, "strict": True}}


@pytest.mark.parametrize("model", TRANSLATED)
def test_stored_state_is_refused_before_any_provider_is_asked(env: Env, model: str) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        env.client().responses.create(model=model, input="And then?", previous_response_id="resp_123")
    message = refused.value.message
    assert "previous_response_id" in message and "stored state is not translated" in message, message
    assert env.fakes[provider_of(model)].requests() == []


def test_a_hosted_tool_is_refused_naming_it(env: Env) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        env.client().responses.create(model=CLAUDE, input="Search", tools=[{"type": "web_search"}])
    assert "`web_search` tools run inside OpenAI's API" in refused.value.message


def test_a_provider_error_is_the_sdk_exception(env: Env) -> None:
    env.fakes["claude"].control(mode="fail", status=400, times=1)
    with pytest.raises(openai.BadRequestError):
        env.client().responses.create(model=CLAUDE, input="Hello")
