import type { JsonObject, JsonValue } from '../../domain';
import { invalid, isObj, str, unsupported, type Obj } from '../json';

/**
 * OpenAI Responses request → chat completions request, for providers that do not speak Responses:
 *
 * | Responses                                       | chat completions                       |
 * | ----------------------------------------------- | -------------------------------------- |
 * | `instructions`                                  | a first `system` message               |
 * | `input` string                                  | one `user` message                     |
 * | message items (`input_text`, `input_image`, `output_text`) | messages (`text`, `image_url`) |
 * | `function_call` items                           | an assistant message's `tool_calls`    |
 * | `function_call_output` items                    | `tool` messages                        |
 * | `reasoning` items                               | dropped (another model cannot read them) |
 * | `tools` (function), `tool_choice`, `parallel_tool_calls` | function tools, the same choices |
 * | `max_output_tokens`, `temperature`, `top_p`, `user`, `stream` | `max_tokens`, the same    |
 * | `text.format` json_schema / json_object         | `response_format`                      |
 *
 * The gateway keeps no state, so what needs it (`previous_response_id`, `conversation`,
 * `store: true`, `background`, stored `prompt`s) is refused with 400 naming the parameter.
 */
export function responsesToChat(body: JsonObject): JsonObject {
  for (const param of ['previous_response_id', 'conversation', 'prompt'] as const) {
    if (body[param] !== undefined && body[param] !== null) throw stateful(param);
  }
  if (body.store === true) throw stateful('store', 'omit `store` or set it to false');
  if (body.background === true) throw stateful('background');

  const out: Obj = { model: body.model ?? null };
  const messages: Obj[] = [];
  if (typeof body.instructions === 'string' && body.instructions) messages.push({ role: 'system', content: body.instructions });
  if (typeof body.input === 'string') messages.push({ role: 'user', content: body.input });
  else if (Array.isArray(body.input)) body.input.forEach((item, i) => addItem(messages, item, `input[${i}]`));
  else throw invalid("Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
  out.messages = messages;

  if (typeof body.max_output_tokens === 'number') out.max_tokens = body.max_output_tokens;
  for (const k of ['temperature', 'top_p'] as const) if (typeof body[k] === 'number') out[k] = body[k];
  if (typeof body.user === 'string') out.user = body.user;
  if (typeof body.parallel_tool_calls === 'boolean') out.parallel_tool_calls = body.parallel_tool_calls;
  if (body.stream === true) {
    out.stream = true;
    // response.completed carries usage: ask every provider for it.
    out.stream_options = { include_usage: true };
  }
  if (body.tools !== undefined && !Array.isArray(body.tools)) throw invalid("Invalid type for 'tools': expected an array.", 'tools', 'invalid_type');
  if (Array.isArray(body.tools) && body.tools.length) {
    out.tools = body.tools.map((t, i) => tool(t, i));
    if (body.tool_choice !== undefined) out.tool_choice = toolChoice(body.tool_choice);
  }
  const format = isObj(body.text) && isObj(body.text.format) ? body.text.format : undefined;
  if (format?.type === 'json_object') out.response_format = { type: 'json_object' };
  else if (format?.type === 'json_schema') {
    const schema: Obj = { name: str(format.name) ?? 'response', schema: isObj(format.schema) ? format.schema : {} };
    if (typeof format.strict === 'boolean') schema.strict = format.strict;
    if (typeof format.description === 'string') schema.description = format.description;
    out.response_format = { type: 'json_schema', json_schema: schema };
  }
  return out;
}

const stateful = (param: string, fix = 'send the whole conversation in `input` instead'): Error =>
  unsupported(`\`${param}\` needs state the gateway does not keep for this model's provider (only OpenAI keeps it): ${fix}.`, param);

function addItem(messages: Obj[], item: JsonValue, at: string): void {
  if (!isObj(item)) throw invalid(`Invalid value for '${at}': expected an object.`, at, 'invalid_type');
  const type = item.type ?? 'message';
  if (type === 'message') return void messages.push(message(item, at));
  if (type === 'function_call' || type === 'function_call_output') {
    if (typeof item.call_id !== 'string') throw invalid(`Invalid type for '${at}.call_id': expected a string.`, `${at}.call_id`, 'invalid_type');
  }
  if (type === 'function_call') {
    const call = { id: str(item.call_id) ?? '', type: 'function', function: { name: str(item.name) ?? '', arguments: str(item.arguments) ?? '{}' } };
    const last = messages[messages.length - 1];
    // Consecutive calls (and a call right after the assistant's text) are one assistant turn.
    if (last?.role === 'assistant') {
      last.tool_calls = [...(Array.isArray(last.tool_calls) ? last.tool_calls : []), call];
      return;
    }
    return void messages.push({ role: 'assistant', content: null, tool_calls: [call] });
  }
  if (type === 'function_call_output') {
    const output = typeof item.output === 'string' ? item.output : Array.isArray(item.output) ? partsText(item.output) : '';
    return void messages.push({ role: 'tool', tool_call_id: str(item.call_id) ?? '', content: output });
  }
  if (type === 'reasoning') return;
  throw unsupported(`${at}: input items of type '${String(type)}' can only be sent to an OpenAI model.`, `${at}.type`);
}

function partsText(parts: JsonValue[]): string {
  return parts.map((p) => (isObj(p) && typeof p.text === 'string' ? p.text : '')).join('');
}

function message(item: Obj, at: string): Obj {
  const role = item.role === 'developer' ? 'system' : item.role;
  if (role !== 'user' && role !== 'assistant' && role !== 'system') throw invalid(`Invalid value for '${at}.role': expected user, assistant, system or developer.`, `${at}.role`);
  if (typeof item.content === 'string') return { role, content: item.content };
  if (!Array.isArray(item.content)) throw invalid(`Invalid value for '${at}.content': expected a string or a list of parts.`, `${at}.content`, 'invalid_type');
  const parts = item.content.map((p, j) => part(p, `${at}.content[${j}]`));
  if (role !== 'user' || parts.every((p) => p.type === 'text')) return { role, content: parts.map((p) => str(p.text) ?? '').join('') };
  return { role, content: parts };
}

function part(p: JsonValue, at: string): Obj {
  if (!isObj(p)) throw invalid(`Invalid value for '${at}': expected an object.`, at, 'invalid_type');
  if (p.type === 'input_text' || p.type === 'output_text' || p.type === 'text') return { type: 'text', text: str(p.text) ?? '' };
  if (p.type === 'refusal') return { type: 'text', text: str(p.refusal) ?? '' };
  if (p.type === 'input_image' && typeof p.image_url === 'string') {
    const image: Obj = { url: p.image_url };
    if (typeof p.detail === 'string') image.detail = p.detail;
    return { type: 'image_url', image_url: image };
  }
  if (p.type === 'input_image') throw unsupported(`'${at}': only images given by \`image_url\` can be sent to this model's provider (not file ids).`, at);
  throw unsupported(`'${at}': parts of type '${String(p.type)}' can only be sent to an OpenAI model.`, `${at}.type`);
}

function tool(t: JsonValue, i: number): Obj {
  if (!isObj(t) || t.type !== 'function' || typeof t.name !== 'string') {
    const type = isObj(t) ? String(t.type) : typeof t;
    throw unsupported(`tools[${i}]: only function tools can be sent to this model's provider (not '${type}').`, `tools[${i}]`);
  }
  const fn: Obj = { name: t.name, parameters: isObj(t.parameters) ? t.parameters : { type: 'object', properties: {} } };
  if (typeof t.description === 'string') fn.description = t.description;
  if (typeof t.strict === 'boolean') fn.strict = t.strict;
  return { type: 'function', function: fn };
}

function toolChoice(c: JsonValue): JsonValue {
  if (c === 'auto' || c === 'none' || c === 'required') return c;
  if (isObj(c) && c.type === 'function' && typeof c.name === 'string') return { type: 'function', function: { name: c.name } };
  throw unsupported("tool_choice: only 'auto', 'none', 'required' or a function can be sent to this model's provider.", 'tool_choice');
}
