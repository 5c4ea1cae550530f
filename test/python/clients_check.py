"""Drives a running gateway with the official `openai` and `langchain-openai` clients.

Run by test/e2e/python-clients.test.ts with GATEWAY_URL, STANDARD_KEY and LANGCHAIN_KEY set.
Prints one line per check and a closing "N passed, N failed" line; exits 1 on any failure.
"""

import json
import os

import openai
from check_harness import check, run_checks, tool
from langchain_core.messages import AIMessageChunk
from langchain_openai import ChatOpenAI
from openai import OpenAI

BASE = os.environ["GATEWAY_URL"]
STANDARD_KEY = os.environ["STANDARD_KEY"]
LANGCHAIN_KEY = os.environ["LANGCHAIN_KEY"]
MODEL = os.environ.get("MODEL", "gpt-4o-mini")

WEATHER_TOOL = tool("get_weather", "Current weather in a city")

client = OpenAI(base_url=f"{BASE}/v1", api_key=STANDARD_KEY, max_retries=0)


@check
def openai_chat():
    r = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi there"}])
    assert r.choices[0].message.content == "echo: hi there", r
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.total_tokens == 12


@check
def openai_stream_without_usage():
    chunks = list(client.chat.completions.create(model=MODEL, stream=True, messages=[{"role": "user", "content": "a b c"}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "abc", text
    assert all(c.choices for c in chunks), "a usage-only chunk reached a client that did not ask for it"


@check
def openai_stream_with_usage():
    chunks = list(
        client.chat.completions.create(
            model=MODEL, stream=True, stream_options={"include_usage": True}, messages=[{"role": "user", "content": "x"}]
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 12, chunks[-1]


@check
def openai_tool_call():
    r = client.chat.completions.create(
        model=MODEL, tools=[WEATHER_TOOL], messages=[{"role": "user", "content": "weather in Paris?"}]
    )
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}


@check
def openai_streamed_tool_call_arguments_reassemble():
    args, name = "", None
    for c in client.chat.completions.create(
        model=MODEL, stream=True, tools=[WEATHER_TOOL], messages=[{"role": "user", "content": "weather?"}]
    ):
        for tc in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            name = name or (tc.function.name if tc.function else None)
            args += (tc.function.arguments or "") if tc.function else ""
    assert name == "get_weather" and json.loads(args) == {"city": "Paris", "unit": "celsius"}, (name, args)


@check
def openai_errors_are_typed():
    bad = OpenAI(base_url=f"{BASE}/v1", api_key="sk-not-a-key", max_retries=0)
    try:
        bad.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    except openai.AuthenticationError as e:
        assert e.status_code == 401 and e.code == "invalid_api_key", e
    else:
        raise AssertionError("expected AuthenticationError")
    try:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    except openai.NotFoundError as e:
        assert e.code == "model_not_found", e
    else:
        raise AssertionError("expected NotFoundError")


def langchain_llm(**kw):
    return ChatOpenAI(base_url=f"{BASE}/v1/langchain", api_key=LANGCHAIN_KEY, model=MODEL, max_retries=0, **kw)


@check
def langchain_invoke():
    msg = langchain_llm().invoke("hello langchain")
    assert msg.content == "echo: hello langchain", msg


@check
def langchain_stream():
    text = "".join(c.content for c in langchain_llm().stream("one two three"))
    assert text == "onetwothree", text


@check
def langchain_tool_calls():
    msg = langchain_llm().bind_tools([WEATHER_TOOL]).invoke("weather in Paris?")
    assert msg.tool_calls[0]["name"] == "get_weather", msg
    assert msg.tool_calls[0]["args"] == {"city": "Paris", "unit": "celsius"}


@check
def langchain_streamed_tool_calls():
    merged = None
    for c in langchain_llm().bind_tools([WEATHER_TOOL]).stream("weather?"):
        merged = c if merged is None else merged + c
    assert isinstance(merged, AIMessageChunk)
    assert merged.tool_calls[0]["name"] == "get_weather", merged
    assert merged.tool_calls[0]["args"] == {"city": "Paris", "unit": "celsius"}


@check
def langchain_rejects_standard_keys():
    llm = ChatOpenAI(base_url=f"{BASE}/v1/langchain", api_key=STANDARD_KEY, model=MODEL, max_retries=0)
    try:
        llm.invoke("x")
    except openai.PermissionDeniedError as e:
        assert e.code == "invalid_key_tier", e
    else:
        raise AssertionError("expected PermissionDeniedError")


run_checks()
