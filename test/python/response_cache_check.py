"""The official `openai` client against the gateway's response cache.

Run by test/e2e/response-cache.test.ts with GATEWAY_URL, CACHE_KEY and RUN_ID set (RUN_ID keeps
the prompts of one run apart from any earlier entry). Each check asks a fresh question twice: the
first answer comes from the upstream (x-gateway-cache: miss), the second from the cache (hit), in
the other shape (buffered <-> stream) where that is the point. Prints one line per check and
"N passed, N failed"; exits 1 on any failure.
"""

import json
import os

from check_harness import check, run_checks, tool
from openai import OpenAI

BASE = os.environ["GATEWAY_URL"]
KEY = os.environ["CACHE_KEY"]
RUN = os.environ["RUN_ID"]
MODEL = "gpt-4o-mini"
WEATHER_TOOL = tool("get_weather", "Current weather in a city")

client = OpenAI(base_url=f"{BASE}/v1", api_key=KEY, max_retries=0)


def question(name):
    return [{"role": "user", "content": f"{name} {RUN}"}]


def stream_hit(messages, **kw):
    """A stream request that must be answered from the cache: its chunks."""
    with client.chat.completions.with_streaming_response.create(model=MODEL, messages=messages, stream=True, **kw) as resp:
        assert resp.headers["x-gateway-cache"] == "hit", resp.headers
        assert resp.headers["content-type"].startswith("text/event-stream"), resp.headers
        return list(resp.parse())


@check
def buffered_answer_replayed_as_stream():
    messages = question("replay me")
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=messages)
    assert raw.headers["x-gateway-cache"] == "miss", raw.headers
    first = raw.parse()
    chunks = stream_hit(messages)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == first.choices[0].message.content, (text, first)
    assert all(c.choices for c in chunks), "a usage chunk reached a client that did not ask for it"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[0].id == first.id and chunks[0].model == first.model


@check
def stream_replay_with_usage_chunk():
    messages = question("usage please")
    first = client.chat.completions.create(model=MODEL, messages=messages)
    chunks = stream_hit(messages, stream_options={"include_usage": True})
    last = chunks[-1]
    assert last.choices == [] and last.usage.total_tokens == first.usage.total_tokens == 12, last


@check
def streamed_answer_served_buffered():
    messages = question("stream first")
    with client.chat.completions.with_streaming_response.create(model=MODEL, messages=messages, stream=True) as resp:
        assert resp.headers["x-gateway-cache"] == "miss", resp.headers
        text = "".join(c.choices[0].delta.content or "" for c in resp.parse() if c.choices)
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=messages)
    assert raw.headers["x-gateway-cache"] == "hit", raw.headers
    cached = raw.parse()
    assert cached.object == "chat.completion"
    assert cached.choices[0].message.content == text, (cached, text)
    assert cached.choices[0].finish_reason == "stop"
    # The gateway asked the provider for the stream's usage: the stored answer carries it.
    assert cached.usage.total_tokens == 12, cached.usage


@check
def tool_call_replayed_through_the_stream_helper():
    messages = question("weather in Paris?")
    live = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    with client.chat.completions.stream(model=MODEL, messages=messages, tools=[WEATHER_TOOL]) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert final.choices[0].finish_reason == "tool_calls"
    assert call.id == live.choices[0].message.tool_calls[0].id
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}


run_checks()
