"""Drives a running gateway whose `cohere` provider points at the fake Cohere API v2 upstream
(test/helpers/fake-cohere.ts), with the official `openai` client.

Run by test/e2e/provider-cohere.test.ts with GATEWAY_URL and STANDARD_KEY set.
Prints one line per check and a closing "N passed, N failed" line; exits 1 on any failure.
"""

import base64
import json
import os
import struct

import openai
from check_harness import check, run_checks, tool, user
from openai import OpenAI

BASE = os.environ["GATEWAY_URL"]
KEY = os.environ["STANDARD_KEY"]
MODEL = os.environ.get("MODEL", "command-a-03-2025")
EMBED_MODEL = os.environ.get("EMBED_MODEL", "embed-v4.0")

# The fake reports tokens.input_tokens=14, output_tokens=5 (billed_units differ on purpose).
PROMPT, COMPLETION = 14, 5


WEATHER = tool("get_weather", "Current weather in a city")
TIME = tool("get_time", "Local time in a city")

client = OpenAI(base_url=f"{BASE}/v1", api_key=KEY, max_retries=0)


def collect_tool_calls(stream):
    calls, finish, role_first = {}, None, None
    for c in stream:
        if not c.choices:
            continue
        d = c.choices[0].delta
        if role_first is None:
            role_first = d.role
        for tc in d.tool_calls or []:
            entry = calls.setdefault(tc.index, {"id": None, "name": None, "args": ""})
            if tc.id:
                entry["id"] = tc.id
            if tc.function and tc.function.name:
                entry["name"] = tc.function.name
            if tc.function and tc.function.arguments:
                entry["args"] += tc.function.arguments
        finish = c.choices[0].finish_reason or finish
    return calls, finish, role_first


@check
def plain_chat():
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi there"}],
        max_tokens=50,
        temperature=0.3,
        top_p=0.9,
        stop=["END"],
    )
    assert r.choices[0].message.content == "echo: hi there", r
    assert r.choices[0].finish_reason == "stop", r
    assert r.model == MODEL, r.model
    assert r.id, r


@check
def usage_numbers():
    r = client.chat.completions.create(model=MODEL, messages=user("count me"))
    assert r.usage.prompt_tokens == PROMPT, r.usage
    assert r.usage.completion_tokens == COMPLETION, r.usage
    assert r.usage.total_tokens == PROMPT + COMPLETION, r.usage


@check
def streamed_chat_assembles():
    chunks = list(client.chat.completions.create(model=MODEL, stream=True, messages=user("one two three")))
    assert chunks[0].choices[0].delta.role == "assistant", chunks[0]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three", text
    assert chunks[-1].choices[0].finish_reason == "stop", chunks[-1]
    assert all(c.choices for c in chunks), "a usage-only chunk reached a client that did not ask for it"


@check
def streamed_usage_when_asked():
    chunks = list(
        client.chat.completions.create(
            model=MODEL, stream=True, stream_options={"include_usage": True}, messages=user("x")
        )
    )
    last = chunks[-1]
    assert last.choices == [] and last.usage.total_tokens == PROMPT + COMPLETION, last
    assert last.usage.prompt_tokens == PROMPT and last.usage.completion_tokens == COMPLETION, last


@check
def tool_call():
    r = client.chat.completions.create(model=MODEL, tools=[WEATHER], messages=user("weather in Paris?"))
    msg = r.choices[0].message
    assert r.choices[0].finish_reason == "tool_calls", r
    assert len(msg.tool_calls) == 1, msg
    call = msg.tool_calls[0]
    assert call.function.name == "get_weather" and call.id, call
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}, call


@check
def parallel_tool_calls():
    r = client.chat.completions.create(
        model=MODEL, tools=[WEATHER, TIME], tool_choice="required", messages=user("weather and time?")
    )
    calls = r.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"], calls
    assert json.loads(calls[1].function.arguments) == {"city": "Berlin", "unit": "celsius"}, calls


@check
def named_tool_choice():
    r = client.chat.completions.create(
        model=MODEL,
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
        messages=user("time?"),
    )
    calls = r.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_time"], calls


@check
def streamed_tool_call_arguments_reassemble():
    calls, finish, role = collect_tool_calls(
        client.chat.completions.create(model=MODEL, stream=True, tools=[WEATHER], messages=user("weather?"))
    )
    assert role == "assistant", role
    assert list(calls) == [0], calls
    assert calls[0]["name"] == "get_weather" and calls[0]["id"], calls
    assert json.loads(calls[0]["args"]) == {"city": "Paris", "unit": "celsius"}, calls
    assert finish == "tool_calls", finish


@check
def streamed_parallel_tool_calls():
    calls, finish, _ = collect_tool_calls(
        client.chat.completions.create(
            model=MODEL, stream=True, tools=[WEATHER, TIME], messages=user("weather and time?")
        )
    )
    assert sorted(calls) == [0, 1], calls
    assert [calls[0]["name"], calls[1]["name"]] == ["get_weather", "get_time"], calls
    assert json.loads(calls[0]["args"]) == {"city": "Paris", "unit": "celsius"}, calls
    assert json.loads(calls[1]["args"]) == {"city": "Berlin", "unit": "celsius"}, calls
    assert calls[0]["id"] != calls[1]["id"], calls
    assert finish == "tool_calls", finish


@check
def tool_results_round_trip():
    first = client.chat.completions.create(
        model=MODEL, tools=[WEATHER, TIME], messages=user("round trip weather and time")
    )
    msg = first.choices[0].message
    messages = user("round trip weather and time") + [msg.model_dump(exclude_none=True)]
    for i, c in enumerate(msg.tool_calls):
        messages.append({"role": "tool", "tool_call_id": c.id, "content": f"result-{i}"})
    r = client.chat.completions.create(model=MODEL, tools=[WEATHER, TIME], messages=messages)
    assert r.choices[0].finish_reason == "stop", r
    assert r.choices[0].message.content == "echo: round trip weather and time", r


@check
def structured_output_json_schema():
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    r = client.chat.completions.create(
        model=MODEL,
        messages=user("give me a person"),
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema, "strict": True}},
    )
    data = json.loads(r.choices[0].message.content)
    assert isinstance(data["name"], str) and isinstance(data["age"], int), data


@check
def json_object_mode():
    r = client.chat.completions.create(model=MODEL, messages=user("json please"), response_format={"type": "json_object"})
    assert json.loads(r.choices[0].message.content) == {"echo": "json please"}, r


@check
def images_reach_upstream():
    r = client.chat.completions.create(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "describe these images"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            }
        ],
    )
    assert r.choices[0].message.content == "echo: describe these images", r


@check
def embeddings():
    r = client.embeddings.create(model=EMBED_MODEL, input=["hello", "world!"], encoding_format="float")
    assert [d.index for d in r.data] == [0, 1], r
    assert all(len(d.embedding) == 4 for d in r.data), r
    assert r.usage.prompt_tokens == 4 and r.usage.total_tokens == 4, r.usage
    assert r.model == EMBED_MODEL, r.model


@check
def embeddings_default_base64_and_dimensions():
    # The SDK asks for base64 by default and decodes it: the values must survive the round trip.
    floats = client.embeddings.create(model=EMBED_MODEL, input="abc", dimensions=8, encoding_format="float")
    r = client.embeddings.create(model=EMBED_MODEL, input="abc", dimensions=8)
    assert len(r.data[0].embedding) == 8, r
    assert r.data[0].embedding == floats.data[0].embedding, (r.data[0].embedding, floats.data[0].embedding)
    raw = client.embeddings.with_raw_response.create(
        model=EMBED_MODEL, input="abc", dimensions=8, encoding_format="base64"
    ).http_response.json()
    decoded = list(struct.unpack("<8f", base64.b64decode(raw["data"][0]["embedding"])))
    assert decoded == floats.data[0].embedding, decoded


@check
def rate_limit_error_is_typed():
    try:
        client.chat.completions.create(model="error-429", messages=user("x"))
    except openai.RateLimitError as e:
        assert e.status_code == 429 and e.code == "rate_limit_exceeded", e
        assert "Trial key" in str(e), e
    else:
        raise AssertionError("expected RateLimitError")


@check
def server_error_is_typed():
    try:
        client.chat.completions.create(model="error-500", messages=user("x"))
    except openai.InternalServerError as e:
        assert e.status_code == 500 and e.code == "server_error", e
    else:
        raise AssertionError("expected InternalServerError")


@check
def streamed_errors_are_typed():
    try:
        list(client.chat.completions.create(model="error-429", stream=True, messages=user("x")))
    except openai.RateLimitError as e:
        assert e.status_code == 429, e
    else:
        raise AssertionError("expected RateLimitError")


@check
def n_greater_than_one_is_refused():
    try:
        client.chat.completions.create(model=MODEL, n=2, messages=user("x"))
    except openai.BadRequestError as e:
        assert e.code == "unsupported_parameter" and e.param == "n", e
    else:
        raise AssertionError("expected BadRequestError")


run_checks()
