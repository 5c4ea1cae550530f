"""Drives a running gateway's Anthropic Messages surface (POST /v1/messages) with the official
`anthropic` Python SDK, for every model in MODELS: the first is served natively by a fake Anthropic,
the others are translated to fake OpenAI, Gemini and Cohere upstreams.

Run by test/e2e/anthropic-messages.test.ts with GATEWAY_URL, STANDARD_KEY and MODELS set.
Prints one line per check and a closing "N passed, N failed" line; exits 1 on any failure.
"""

import os

import anthropic
from check_harness import check, run_checks

BASE = os.environ["GATEWAY_URL"]
KEY = os.environ["STANDARD_KEY"]
MODELS = os.environ["MODELS"].split(",")
NATIVE = MODELS[0]

client = anthropic.Anthropic(base_url=BASE, api_key=KEY, max_retries=0)
# Claude Code style: the key as a bearer token.
bearer = anthropic.Anthropic(base_url=BASE, auth_token=KEY, max_retries=0)

WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}, "required": ["city"]},
}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def usage_ok(u, model):
    assert isinstance(u.input_tokens, int) and isinstance(u.output_tokens, int), u
    assert u.output_tokens > 0, u
    if model == NATIVE:
        # The fake's own numbers, untouched.
        assert (u.input_tokens, u.output_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens) == (10, 5, 4, 2), u


def per_model(fn):
    for model in MODELS:

        def run(model=model):
            fn(model)

        run.__name__ = f"{fn.__name__}[{model}]"
        check(run)
    return fn


@per_model
def create_text(model):
    msg = client.messages.create(model=model, max_tokens=64, system="Be brief.", messages=[{"role": "user", "content": "hello there"}])
    assert msg.type == "message" and msg.role == "assistant", msg
    assert msg.id.startswith("msg_"), msg.id
    assert msg.stop_reason == "end_turn", msg.stop_reason
    assert msg.content[0].type == "text" and "hello" in msg.content[0].text, msg.content
    usage_ok(msg.usage, model)


@per_model
def create_with_bearer_and_system_blocks(model):
    msg = bearer.messages.create(
        model=model,
        max_tokens=64,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "blocks please"}]}],
    )
    assert "blocks" in msg.content[0].text, msg.content


@per_model
def stream_text(model):
    with client.messages.stream(model=model, max_tokens=64, messages=[{"role": "user", "content": "stream me"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert "stream" in text, text
    assert final.content[0].text == text, (final.content, text)
    assert final.stop_reason == "end_turn", final.stop_reason
    usage_ok(final.usage, model)


@per_model
def raw_stream_events(model):
    events = list(client.messages.create(model=model, max_tokens=64, stream=True, messages=[{"role": "user", "content": "events please"}]))
    types = [e.type for e in events]
    assert types[0] == "message_start" and types[-1] == "message_stop", types
    assert types[-2] == "message_delta", types
    assert "content_block_start" in types and "content_block_delta" in types and "content_block_stop" in types, types


@per_model
def tools_round_trip(model):
    first = client.messages.create(model=model, max_tokens=128, tools=[WEATHER], messages=[{"role": "user", "content": "weather in Paris?"}])
    assert first.stop_reason == "tool_use", first.stop_reason
    calls = [b for b in first.content if b.type == "tool_use"]
    assert calls and calls[0].name == "get_weather" and isinstance(calls[0].input, dict), first.content
    assert calls[0].input.get("city") == "Paris", calls[0].input
    results = [{"type": "tool_result", "tool_use_id": c.id, "content": "sunny, 21C"} for c in calls]
    second = client.messages.create(
        model=model,
        max_tokens=128,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {"role": "user", "content": results},
        ],
    )
    assert second.stop_reason == "end_turn", second.stop_reason
    assert second.content[0].type == "text", second.content


@per_model
def tools_stream(model):
    with client.messages.stream(model=model, max_tokens=128, tools=[WEATHER], messages=[{"role": "user", "content": "weather in Paris?"}]) as stream:
        final = stream.get_final_message()
    calls = [b for b in final.content if b.type == "tool_use"]
    assert final.stop_reason == "tool_use", final.stop_reason
    assert calls and calls[0].input.get("city") == "Paris", final.content


@per_model
def image_base64(model):
    msg = client.messages.create(
        model=model,
        max_tokens=64,
        messages=[{"role": "user", "content": [{"type": "text", "text": "describe this"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}],
    )
    assert msg.content and msg.content[0].type == "text", msg.content


@per_model
def count_tokens(model):
    r = client.messages.count_tokens(model=model, system="Be brief.", messages=[{"role": "user", "content": "how many tokens is this"}])
    assert isinstance(r.input_tokens, int) and r.input_tokens > 0, r
    if model == NATIVE:
        assert r.input_tokens == 10, r  # the fake's count: 7 words + 3


@check
def error_bad_key():
    bad = anthropic.Anthropic(base_url=BASE, api_key="sk-wrong", max_retries=0)
    try:
        bad.messages.create(model=NATIVE, max_tokens=8, messages=[{"role": "user", "content": "hi"}])
        raise AssertionError("expected 401")
    except anthropic.AuthenticationError as e:
        assert e.status_code == 401 and e.body["type"] == "error" and e.body["error"]["type"] == "authentication_error", e.body


@check
def error_unknown_model():
    try:
        client.messages.create(model="no-such-model", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
        raise AssertionError("expected 404")
    except anthropic.NotFoundError as e:
        assert e.body["error"]["type"] == "not_found_error" and "no-such-model" in e.body["error"]["message"], e.body


@check
def error_bad_request():
    try:
        client.messages.create(model=NATIVE, max_tokens=0, messages=[{"role": "user", "content": "hi"}])
        raise AssertionError("expected 400")
    except anthropic.BadRequestError as e:
        assert e.body["error"]["type"] == "invalid_request_error" and "max_tokens" in e.body["error"]["message"], e.body


@check
def error_upstream_native_429():
    try:
        client.messages.create(model="error-429", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
        raise AssertionError("expected 429")
    except anthropic.RateLimitError as e:
        assert e.body["error"]["type"] == "rate_limit_error", e.body


@check
def error_mid_stream():
    try:
        with client.messages.stream(model="error-stream", max_tokens=8, messages=[{"role": "user", "content": "hi"}]) as stream:
            for _ in stream:
                pass
        raise AssertionError("expected a stream error")
    except anthropic.APIStatusError as e:
        assert "Overloaded" in str(e), e
    except anthropic.APIError as e:
        assert "Overloaded" in str(e), e


run_checks()
