"""Drives a running gateway whose `anthropic` provider points at test/helpers/fake-anthropic.ts,
with the official `openai` client: every check goes OpenAI → gateway → Anthropic wire format → back.

Run by test/e2e/provider-anthropic.test.ts with GATEWAY_URL and STANDARD_KEY set.
Prints one line per check and a closing "N passed, N failed" line; exits 1 on any failure.
"""

import json
import os

import openai
from check_harness import check, run_checks, tool, user
from openai import OpenAI

BASE = os.environ["GATEWAY_URL"]
KEY = os.environ["STANDARD_KEY"]
MODEL = "claude-test-1"

client = OpenAI(base_url=f"{BASE}/v1", api_key=KEY, max_retries=0)

WEATHER = tool("get_weather", "Current weather in a city")
TIME = tool("get_time", "Local time in a city")
PARIS = {"city": "Paris", "unit": "celsius"}
LONDON = {"city": "London", "unit": "celsius"}
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
    "additionalProperties": False,
}
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def expect_usage(u):
    assert (u.prompt_tokens, u.completion_tokens, u.total_tokens) == (16, 5, 21), u
    assert u.prompt_tokens_details.cached_tokens == 4, u


def collect_tool_calls(chunks):
    calls = {}
    for c in chunks:
        for tc in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            entry = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
            if tc.id:
                entry["id"] = tc.id
            if tc.function and tc.function.name:
                entry["name"] = tc.function.name
            if tc.function and tc.function.arguments:
                entry["arguments"] += tc.function.arguments
    return calls


def text_of(chunks):
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@check
def plain_chat():
    r = client.chat.completions.create(
        model=MODEL, messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"}]
    )
    assert r.choices[0].message.content == "echo: hi there", r
    assert r.choices[0].finish_reason == "stop", r
    assert r.model == MODEL and r.id == "msg_fake01", r
    expect_usage(r.usage)


@check
def streamed_chat():
    chunks = list(client.chat.completions.create(model=MODEL, stream=True, messages=user("a b c")))
    assert text_of(chunks) == "echo: a b c", text_of(chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert all(c.choices for c in chunks), "a usage-only chunk reached a client that did not ask for it"


@check
def streamed_usage():
    chunks = list(
        client.chat.completions.create(model=MODEL, stream=True, stream_options={"include_usage": True}, messages=user("x"))
    )
    assert chunks[-1].choices == [], chunks[-1]
    expect_usage(chunks[-1].usage)


@check
def tool_call():
    r = client.chat.completions.create(model=MODEL, tools=[WEATHER], messages=user("weather in Paris?"))
    m = r.choices[0].message
    assert r.choices[0].finish_reason == "tool_calls", r
    assert len(m.tool_calls) == 1 and m.tool_calls[0].function.name == "get_weather", m
    assert json.loads(m.tool_calls[0].function.arguments) == PARIS
    assert m.tool_calls[0].id == "toolu_fake00"


@check
def parallel_tool_calls():
    r = client.chat.completions.create(model=MODEL, tools=[WEATHER, TIME], tool_choice="required", messages=user("weather and time?"))
    calls = r.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"], calls
    assert [json.loads(c.function.arguments) for c in calls] == [PARIS, LONDON]


@check
def parallel_tool_calls_disabled():
    r = client.chat.completions.create(
        model=MODEL, tools=[WEATHER, TIME], parallel_tool_calls=False, messages=user("weather and time?")
    )
    assert len(r.choices[0].message.tool_calls) == 1, r


@check
def streamed_parallel_tool_calls():
    chunks = list(client.chat.completions.create(model=MODEL, stream=True, tools=[WEATHER, TIME], messages=user("weather?")))
    calls = collect_tool_calls(chunks)
    assert sorted(calls) == [0, 1], calls
    assert (calls[0]["id"], calls[0]["name"]) == ("toolu_fake00", "get_weather"), calls
    assert (calls[1]["id"], calls[1]["name"]) == ("toolu_fake01", "get_time"), calls
    assert json.loads(calls[0]["arguments"]) == PARIS and json.loads(calls[1]["arguments"]) == LONDON, calls
    assert text_of(chunks) == "Let me check.", text_of(chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


@check
def tool_results_round_trip():
    first = client.chat.completions.create(model=MODEL, tools=[WEATHER, TIME], messages=user("weather and time in Paris?"))
    m = first.choices[0].message
    messages = user("weather and time in Paris?") + [m.model_dump(exclude_none=True)]
    results = {"get_weather": "18C and sunny", "get_time": "10:00"}
    for call in m.tool_calls:
        messages.append({"role": "tool", "tool_call_id": call.id, "content": results[call.function.name]})
    r = client.chat.completions.create(model=MODEL, tools=[WEATHER, TIME], messages=messages)
    assert r.choices[0].finish_reason == "stop", r
    assert r.choices[0].message.content == "echo: 18C and sunny 10:00", r


@check
def structured_output():
    rf = {"type": "json_schema", "json_schema": {"name": "city_info", "schema": SCHEMA, "strict": True}}
    r = client.chat.completions.create(model=MODEL, response_format=rf, messages=user("Tell me about Paris"))
    assert r.choices[0].finish_reason == "stop", r
    assert r.choices[0].message.tool_calls is None, r
    assert json.loads(r.choices[0].message.content) == {"city": "Paris", "population": 42}, r


@check
def structured_output_streamed():
    rf = {"type": "json_schema", "json_schema": {"name": "city_info", "schema": SCHEMA}}
    chunks = list(client.chat.completions.create(model=MODEL, stream=True, response_format=rf, messages=user("Paris?")))
    assert json.loads(text_of(chunks)) == {"city": "Paris", "population": 42}, text_of(chunks)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


@check
def json_object_mode():
    r = client.chat.completions.create(model=MODEL, response_format={"type": "json_object"}, messages=user("hello"))
    assert json.loads(r.choices[0].message.content) == {"echo": "hello"}, r


@check
def images():
    content = [
        {"type": "text", "text": "describe these"},
        {"type": "image_url", "image_url": {"url": PNG}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    r = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])
    assert r.choices[0].message.content == "echo: describe these", r


@check
def stop_and_length():
    r = client.chat.completions.create(model=MODEL, stop=["three"], messages=user("one two three four"))
    assert (r.choices[0].message.content, r.choices[0].finish_reason) == ("echo: one two ", "stop"), r
    r = client.chat.completions.create(model=MODEL, max_completion_tokens=2, messages=user("one two three"))
    assert (r.choices[0].message.content, r.choices[0].finish_reason) == ("echo: one", "length"), r


@check
def embeddings_unsupported():
    try:
        client.embeddings.create(model=MODEL, input="hello")
    except openai.BadRequestError as e:
        assert e.code == "unsupported_endpoint", e
    else:
        raise AssertionError("expected BadRequestError")


@check
def n_refused():
    try:
        client.chat.completions.create(model=MODEL, n=2, messages=user("x"))
    except openai.BadRequestError as e:
        assert e.code == "unsupported_parameter" and e.param == "n", e
    else:
        raise AssertionError("expected BadRequestError")


@check
def errors_are_typed():
    try:
        client.chat.completions.create(model="anthropic/error-429", messages=user("x"))
    except openai.RateLimitError as e:
        assert e.status_code == 429 and e.code == "rate_limit_exceeded", e
        assert e.type == "rate_limit_error", e
    else:
        raise AssertionError("expected RateLimitError")
    try:
        client.chat.completions.create(model="anthropic/error-500", messages=user("x"))
    except openai.InternalServerError as e:
        assert e.status_code == 500 and e.type == "server_error", e
    else:
        raise AssertionError("expected InternalServerError")
    try:
        client.chat.completions.create(model="anthropic/error-529", messages=user("x"))
    except openai.InternalServerError as e:
        assert e.status_code == 503 and e.code == "overloaded", e
    else:
        raise AssertionError("expected InternalServerError (529 → 503)")


@check
def stream_error_is_raised():
    try:
        list(client.chat.completions.create(model="anthropic/error-stream", stream=True, messages=user("x")))
    except openai.APIError as e:
        assert "Overloaded" in str(e), e
    else:
        raise AssertionError("expected APIError from the stream")


run_checks()
