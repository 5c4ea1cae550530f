"""Drives a running gateway's OpenAI Responses API (POST /v1/responses) with the official `openai`
Python SDK, for every model in MODELS: each is translated to a provider that does not speak
Responses (fake Anthropic, Gemini, Cohere). The first must be the Anthropic one.

Run by test/e2e/responses-api.test.ts with GATEWAY_URL, STANDARD_KEY and MODELS set.
Prints one line per check and a closing "N passed, N failed" line; exits 1 on any failure.
"""

import json
import os

import openai
from check_harness import check, run_checks
from openai import OpenAI

BASE = os.environ["GATEWAY_URL"]
KEY = os.environ["STANDARD_KEY"]
MODELS = os.environ["MODELS"].split(",")
CLAUDE = MODELS[0]

client = OpenAI(base_url=f"{BASE}/v1", api_key=KEY, max_retries=0)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}, "required": ["city"]},
}
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def per_model(fn):
    for model in MODELS:

        def run(model=model):
            fn(model)

        run.__name__ = f"{fn.__name__}[{model}]"
        check(run)
    return fn


def usage_ok(u):
    assert u.input_tokens > 0 and u.output_tokens > 0, u
    assert u.total_tokens == u.input_tokens + u.output_tokens, u
    assert isinstance(u.input_tokens_details.cached_tokens, int) and isinstance(u.output_tokens_details.reasoning_tokens, int), u


@per_model
def create_text(model):
    r = client.responses.create(model=model, input="hello there", instructions="Be brief.")
    assert r.object == "response" and r.id.startswith("resp_"), r
    assert r.status == "completed", r.status
    assert "hello" in r.output_text, r.output_text
    assert r.output[0].type == "message" and r.output[0].content[0].type == "output_text", r.output
    assert r.model == model, r.model
    usage_ok(r.usage)


@per_model
def create_items(model):
    r = client.responses.create(
        model=model,
        input=[
            {"role": "developer", "content": "Answer plainly."},
            {"role": "user", "content": [{"type": "input_text", "text": "items please"}, {"type": "input_image", "image_url": PNG}]},
        ],
        max_output_tokens=64,
        temperature=0.2,
    )
    assert r.status == "completed" and r.output_text, r


@per_model
def stream_text(model):
    types = []
    seqs = []
    with client.responses.stream(model=model, input="stream me") as s:
        for event in s:
            types.append(event.type)
            seqs.append(event.sequence_number)
        final = s.get_final_response()
    assert types[:2] == ["response.created", "response.in_progress"], types
    assert types[-1] == "response.completed", types
    for t in ["response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.done", "response.content_part.done", "response.output_item.done"]:
        assert t in types, (t, types)
    assert seqs == list(range(len(seqs))), seqs
    assert "stream" in final.output_text, final.output_text
    usage_ok(final.usage)


@per_model
def tools_round_trip(model):
    r = client.responses.create(model=model, input="weather in Paris?", tools=[WEATHER])
    calls = [o for o in r.output if o.type == "function_call"]
    assert calls and calls[0].name == "get_weather", r.output
    assert json.loads(calls[0].arguments).get("city") == "Paris", calls[0].arguments
    follow = [{"role": "user", "content": "weather in Paris?"}]
    follow += [o.model_dump(exclude_none=True) for o in r.output]
    follow += [{"type": "function_call_output", "call_id": c.call_id, "output": "sunny, 21C"} for c in calls]
    r2 = client.responses.create(model=model, input=follow, tools=[WEATHER])
    assert r2.output_text, r2.output


@per_model
def tools_stream(model):
    types = []
    with client.responses.stream(model=model, input="weather in Paris?", tools=[WEATHER], tool_choice="required") as s:
        for event in s:
            types.append(event.type)
        final = s.get_final_response()
    assert "response.function_call_arguments.delta" in types and "response.function_call_arguments.done" in types, types
    calls = [o for o in final.output if o.type == "function_call"]
    assert calls and json.loads(calls[0].arguments).get("city") == "Paris", final.output


@per_model
def previous_response_id_refused(model):
    try:
        client.responses.create(model=model, input="again", previous_response_id="resp_abc")
        raise AssertionError("expected 400")
    except openai.BadRequestError as e:
        assert e.status_code == 400 and e.body["param"] == "previous_response_id" and e.body["type"] == "invalid_request_error", e.body


@check
def store_true_refused():
    try:
        client.responses.create(model=CLAUDE, input="keep this", store=True)
        raise AssertionError("expected 400")
    except openai.BadRequestError as e:
        assert e.body["param"] == "store", e.body


@check
def max_output_tokens_incomplete():
    r = client.responses.create(model=CLAUDE, input="one two three four five six", max_output_tokens=2)
    assert r.status == "incomplete" and r.incomplete_details.reason == "max_output_tokens", r


@check
def json_schema_format():
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}}, "required": ["city", "population"], "additionalProperties": False}
    r = client.responses.create(model=CLAUDE, input="a city", text={"format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}})
    data = json.loads(r.output_text)
    assert set(data) == {"city", "population"}, data


@check
def unknown_model():
    try:
        client.responses.create(model="no-such-model", input="x")
        raise AssertionError("expected 404")
    except openai.NotFoundError as e:
        assert e.body["code"] == "model_not_found", e.body


@check
def mid_stream_error():
    try:
        with client.responses.stream(model="error-stream", input="x") as s:
            types = [e.type for e in s]
        assert types[-1] == "response.failed", types
        assert "error" in types, types
    except openai.APIError as e:
        raise AssertionError(f"the failure is an event, not an exception: {e}")


run_checks()
