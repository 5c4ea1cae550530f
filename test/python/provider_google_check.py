"""Drives a running gateway whose `gemini-*` models go to a fake Gemini API (test/helpers/fake-google.ts).

Run by test/e2e/provider-google.test.ts with GATEWAY_URL and STANDARD_KEY set. Uses the official
`openai` client only: everything it sees must look like OpenAI. Prints one line per check and a
closing "N passed, N failed" line; exits 1 on any failure.
"""

import json
import os

import openai
from check_harness import check, run_checks
from openai import OpenAI

BASE = os.environ["GATEWAY_URL"]
KEY = os.environ["STANDARD_KEY"]
MODEL = "gemini-2.0-flash"

client = OpenAI(base_url=f"{BASE}/v1", api_key=KEY, max_retries=0)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Local time in a time zone",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
    },
}


def assert_usage(u):
    assert u.prompt_tokens == 9 and u.completion_tokens == 5 and u.total_tokens == 14, u
    assert u.prompt_tokens_details.cached_tokens == 4, u
    assert u.completion_tokens_details.reasoning_tokens == 2, u


@check
def plain_chat_and_usage():
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi there"}],
        max_tokens=64,
        temperature=0.3,
        stop=["END"],
    )
    assert r.choices[0].message.content == "echo: hi there", r
    assert r.choices[0].finish_reason == "stop", r
    assert r.model == MODEL, r.model
    assert_usage(r.usage)


@check
def multi_turn_chat():
    r = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "echo: first"},
            {"role": "user", "content": "second"},
        ],
    )
    assert r.choices[0].message.content == "echo: second", r


@check
def streamed_chat_assembles():
    chunks = list(client.chat.completions.create(model=MODEL, stream=True, messages=[{"role": "user", "content": "a b c"}]))
    assert chunks[0].choices[0].delta.role == "assistant", chunks[0]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: a b c", text
    assert chunks[-1].choices[0].finish_reason == "stop", chunks[-1]
    assert all(c.choices for c in chunks), "a usage-only chunk reached a client that did not ask for it"
    assert len({c.id for c in chunks}) == 1


@check
def streamed_chat_with_usage():
    chunks = list(
        client.chat.completions.create(
            model=MODEL, stream=True, stream_options={"include_usage": True}, messages=[{"role": "user", "content": "x y"}]
        )
    )
    assert chunks[-1].choices == [], chunks[-1]
    assert_usage(chunks[-1].usage)


@check
def tool_call():
    r = client.chat.completions.create(model=MODEL, tools=[WEATHER], messages=[{"role": "user", "content": "weather in Paris?"}])
    msg = r.choices[0].message
    assert r.choices[0].finish_reason == "tool_calls", r
    assert len(msg.tool_calls) == 1, msg
    assert msg.tool_calls[0].function.name == "get_weather"
    assert json.loads(msg.tool_calls[0].function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert r.usage.total_tokens == 27, r.usage


@check
def parallel_tool_calls():
    r = client.chat.completions.create(
        model=MODEL, tools=[WEATHER, TIME], tool_choice="required", messages=[{"role": "user", "content": "weather and time?"}]
    )
    calls = r.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"], calls
    assert json.loads(calls[1].function.arguments) == {"tz": "Europe/Paris"}
    assert calls[0].id != calls[1].id and all(c.id for c in calls)


@check
def named_tool_choice():
    r = client.chat.completions.create(
        model=MODEL,
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
        messages=[{"role": "user", "content": "time?"}],
    )
    assert [c.function.name for c in r.choices[0].message.tool_calls] == ["get_time"], r


@check
def streamed_parallel_tool_calls_reassemble():
    calls = {}
    finish = None
    for c in client.chat.completions.create(
        model=MODEL, stream=True, tools=[WEATHER, TIME], messages=[{"role": "user", "content": "weather and time?"}]
    ):
        if not c.choices:
            continue
        finish = c.choices[0].finish_reason or finish
        for tc in c.choices[0].delta.tool_calls or []:
            slot = calls.setdefault(tc.index, {"id": None, "name": None, "args": ""})
            slot["id"] = slot["id"] or tc.id
            if tc.function:
                slot["name"] = slot["name"] or tc.function.name
                slot["args"] += tc.function.arguments or ""
    assert sorted(calls) == [0, 1], calls
    assert calls[0]["name"] == "get_weather" and json.loads(calls[0]["args"]) == {"city": "Paris", "unit": "celsius"}, calls
    assert calls[1]["name"] == "get_time" and json.loads(calls[1]["args"]) == {"tz": "Europe/Paris"}, calls
    assert calls[0]["id"] and calls[1]["id"] and calls[0]["id"] != calls[1]["id"]
    assert finish == "tool_calls", finish


@check
def tool_results_round_trip():
    messages = [{"role": "user", "content": "weather and time?"}]
    r = client.chat.completions.create(model=MODEL, tools=[WEATHER, TIME], messages=messages)
    msg = r.choices[0].message
    messages.append(msg.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": msg.tool_calls[0].id, "content": json.dumps({"temp_c": 21})})
    messages.append({"role": "tool", "tool_call_id": msg.tool_calls[1].id, "content": "12:00"})
    r2 = client.chat.completions.create(model=MODEL, tools=[WEATHER, TIME], messages=messages)
    content = r2.choices[0].message.content
    assert r2.choices[0].finish_reason == "stop", r2
    assert content == 'tool results: get_weather={"temp_c":21}; get_time={"result":"12:00"}', content


@check
def structured_output_json_schema():
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}, "capital": {"type": "boolean"}},
        "required": ["city", "population", "capital"],
        "additionalProperties": False,
    }
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "a city"}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "strict": True, "schema": schema}},
    )
    data = json.loads(r.choices[0].message.content)
    assert data == {"city": "Paris", "population": 42, "capital": True}, data


@check
def json_object_mode():
    r = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "json please"}], response_format={"type": "json_object"}
    )
    assert json.loads(r.choices[0].message.content) == {"echo": "json please"}, r


@check
def images_data_and_https_urls():
    r = client.chat.completions.create(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "describe"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/images/cat.png"}},
                ],
            }
        ],
    )
    assert r.choices[0].message.content == "echo: describe", r


@check
def embeddings():
    r = client.embeddings.create(model="gemini-embedding-001", input=["hello", "world"], dimensions=4)
    assert r.object == "list" and len(r.data) == 2, r
    assert [d.index for d in r.data] == [0, 1]
    assert all(len(d.embedding) == 4 for d in r.data), r
    # The client asks for base64 by default and decodes it; ask for floats explicitly too.
    f = client.embeddings.create(model="gemini-embedding-001", input="hello", dimensions=4, encoding_format="float")
    assert [round(x, 4) for x in f.data[0].embedding] == [round(x, 4) for x in r.data[0].embedding], (f, r)
    assert r.model == "gemini-embedding-001" and r.usage.prompt_tokens == 0


@check
def rate_limit_error():
    for stream in (False, True):
        try:
            client.chat.completions.create(model="gemini-error-429", stream=stream, messages=[{"role": "user", "content": "x"}])
        except openai.RateLimitError as e:
            assert e.status_code == 429 and e.code == "rate_limit_exceeded", e
            assert "exhausted" in str(e.message), e.message
        else:
            raise AssertionError("expected RateLimitError")


@check
def server_error():
    for stream in (False, True):
        try:
            client.chat.completions.create(model="gemini-error-500", stream=stream, messages=[{"role": "user", "content": "x"}])
        except openai.InternalServerError as e:
            assert e.status_code == 500 and e.type == "server_error", e
        else:
            raise AssertionError("expected InternalServerError")


@check
def unsupported_endpoint():
    try:
        client.completions.create(model=MODEL, prompt="x")
    except openai.BadRequestError as e:
        assert e.code == "unsupported_endpoint", e
    else:
        raise AssertionError("expected BadRequestError")


run_checks()
