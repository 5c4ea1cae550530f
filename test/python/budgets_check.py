"""Streams one chat completion with the official openai SDK and reports what the client saw.

Prints one JSON line: the text received, the APIError the SDK raised for the stream's error event
(if any), and any other exception (a broken stream would be httpx / APIConnectionError).
"""
import json
import os
import sys

import openai

client = openai.OpenAI(base_url=os.environ["GATEWAY_URL"] + "/v1", api_key=os.environ["KEY"], max_retries=0)
body = {"model": os.environ.get("MODEL", "gpt-4o-mini"), "messages": [{"role": "user", "content": "go"}], "stream": True}
if os.environ.get("MAX_TOKENS"):
    body["max_tokens"] = int(os.environ["MAX_TOKENS"])
out = {"text": "", "chunks": 0, "api_error": None, "other_error": None, "last_event": None, "failed": None}
try:
    if os.environ.get("API") == "responses":
        # The Responses API: a failed response is an event (`response.failed`), not an exception.
        for event in client.responses.create(model=body["model"], input="go", stream=True, max_output_tokens=int(os.environ.get("MAX_TOKENS", "1000"))):
            out["chunks"] += 1
            out["last_event"] = event.type
            if event.type == "response.output_text.delta":
                out["text"] += event.delta
            if event.type == "response.failed":
                err = event.response.error
                out["failed"] = {"code": err.code if err else None, "message": err.message if err else None}
    else:
        for chunk in client.chat.completions.create(**body):
            out["chunks"] += 1
            if chunk.choices and chunk.choices[0].delta.content:
                out["text"] += chunk.choices[0].delta.content
except openai.APIStatusError as e:
    out["api_error"] = {"kind": "status", "status": e.status_code, "code": e.code, "message": e.message}
except openai.APIConnectionError as e:
    out["other_error"] = f"{type(e).__name__}: {e}"
except openai.APIError as e:
    out["api_error"] = {"kind": "stream", "code": e.code, "type": e.type, "message": e.message}
except Exception as e:  # noqa: BLE001 - whatever else the client hit is the finding
    out["other_error"] = f"{type(e).__name__}: {e}"
print(json.dumps(out))
sys.exit(0)
