import type { JsonObject, JsonValue } from '../../domain';
import { invalid, isObj, str, unsupported, type Obj } from '../json';

/**
 * Anthropic Messages request → OpenAI chat completions request (the view plugins see, and what
 * a translated attempt sends):
 *
 * | Messages                                  | chat completions                              |
 * | ----------------------------------------- | --------------------------------------------- |
 * | `system` (string or text blocks)          | a first `system` message                      |
 * | user `text` / `image` (base64, url)       | `text` / `image_url` (base64 as a data URL)   |
 * | user `tool_result`                        | a `tool` message (before the user's own text) |
 * | assistant `text` / `tool_use`             | `content` / `tool_calls` (input as JSON text) |
 * | assistant `thinking`, `redacted_thinking` | dropped (another model cannot read them)      |
 * | `tools` (custom), `tool_choice`           | `function` tools; auto/any/tool/none → auto/required/function/none |
 * | `disable_parallel_tool_use`               | `parallel_tool_calls: false`                  |
 * | `max_tokens`, `stop_sequences`, `temperature`, `top_p`, `metadata.user_id`, `stream` | `max_tokens`, `stop`, `temperature`, `top_p`, `user`, `stream` |
 *
 * `cache_control`, `top_k`, `thinking`, `service_tier` have no chat equivalent and are dropped
 * from the view; what a translated attempt cannot carry at all is refused by `untranslatable`.
 */
export function messagesToChat(body: JsonObject, countOnly: boolean): JsonObject {
  const out: Obj = {};
  if (body.model !== undefined) out.model = body.model;
  if (!countOnly) {
    if (body.max_tokens === undefined) throw invalid('max_tokens: Field required', 'max_tokens', 'missing_required_parameter');
    if (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1) throw invalid('max_tokens: must be a positive integer', 'max_tokens');
    out.max_tokens = body.max_tokens;
  }
  if (!Array.isArray(body.messages)) throw invalid('messages: Field required (a list of messages)', 'messages', 'missing_required_parameter');

  const messages: Obj[] = [];
  const system = systemText(body.system);
  if (system) messages.push({ role: 'system', content: system });
  body.messages.forEach((m, i) => messages.push(...message(m, `messages.${i}`)));
  out.messages = messages;

  if (!countOnly) {
    copyNumber(body, out, 'temperature');
    copyNumber(body, out, 'top_p');
    if (Array.isArray(body.stop_sequences) && body.stop_sequences.length) out.stop = body.stop_sequences.filter((s) => typeof s === 'string');
    const user = isObj(body.metadata) ? str(body.metadata.user_id) : undefined;
    if (user) out.user = user;
    // Usage comes back in every stream: message_delta carries it, records need it.
    if (body.stream === true) Object.assign(out, { stream: true, stream_options: { include_usage: true } });
  }
  if (body.tools !== undefined && !(Array.isArray(body.tools) && body.tools.every(isObj))) throw invalid('tools: Input should be a valid list of tools', 'tools', 'invalid_type');
  if (body.tool_choice !== undefined && !isObj(body.tool_choice)) throw invalid('tool_choice: Input should be an object ({"type": "auto"})', 'tool_choice', 'invalid_type');
  const tools = Array.isArray(body.tools) ? body.tools.filter(isCustomTool).map(tool) : [];
  if (tools.length) {
    out.tools = tools;
    applyToolChoice(body.tool_choice, out);
  }
  return out;
}

function copyNumber(from: Obj, to: Obj, key: string): void {
  if (typeof from[key] === 'number') to[key] = from[key];
}

function systemText(system: JsonValue | undefined): string | undefined {
  if (system === undefined || system === null) return undefined;
  if (typeof system === 'string') return system || undefined;
  if (!Array.isArray(system)) throw invalid('system: Input should be a valid string or list of text blocks', 'system', 'invalid_type');
  return system.map((b) => (isObj(b) && typeof b.text === 'string' ? b.text : '')).filter(Boolean).join('\n\n') || undefined;
}

function blocksOf(content: JsonValue | undefined, at: string): Obj[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw invalid(`${at}.content: Input should be a valid string or list of content blocks`, `${at}.content`, 'invalid_type');
  return content.map((b, j) => {
    if (!isObj(b) || typeof b.type !== 'string') throw invalid(`${at}.content.${j}: a content block needs a \`type\``, `${at}.content.${j}`);
    return b;
  });
}

function message(m: JsonValue, at: string): Obj[] {
  if (!isObj(m) || (m.role !== 'user' && m.role !== 'assistant')) throw invalid(`${at}.role: Input should be 'user' or 'assistant'`, `${at}.role`);
  const blocks = blocksOf(m.content, at);
  return m.role === 'user' ? userMessages(blocks, at) : [assistantMessage(blocks, at)];
}

/** Tool results become `tool` messages first (they answer the previous turn), then the user's own parts. */
function userMessages(blocks: Obj[], at: string): Obj[] {
  const tools: Obj[] = [];
  const parts: Obj[] = [];
  blocks.forEach((b, j) => {
    if (b.type === 'tool_result') {
      const ok = typeof b.tool_use_id === 'string' && (b.content === undefined || typeof b.content === 'string' || (Array.isArray(b.content) && b.content.every(isObj)));
      if (!ok) throw invalid(`${at}.content.${j}: a tool_result needs a string \`tool_use_id\` and string or block \`content\``, `${at}.content.${j}`);
      tools.push({ role: 'tool', tool_call_id: b.tool_use_id as string, content: toolResultText(b) });
    }
    else if (b.type === 'text') parts.push({ type: 'text', text: str(b.text) ?? '' });
    else if (b.type === 'image') parts.push(imagePart(b, `${at}.content.${j}`));
    // Documents, search results...: refused for translated attempts by `untranslatable`.
  });
  const out = tools;
  if (parts.length) out.push({ role: 'user', content: parts.every((p) => p.type === 'text') ? parts.map((p) => p.text as string).join('\n') : parts });
  return out;
}

function toolResultText(b: Obj): string {
  const text = typeof b.content === 'string' ? b.content : Array.isArray(b.content) ? b.content.map((c) => (isObj(c) && typeof c.text === 'string' ? c.text : '')).join('\n') : '';
  return b.is_error === true ? `Error: ${text}` : text;
}

function imagePart(b: Obj, at: string): Obj {
  const s = isObj(b.source) ? b.source : {};
  if (s.type === 'base64' && typeof s.media_type === 'string' && typeof s.data === 'string') {
    return { type: 'image_url', image_url: { url: `data:${s.media_type};base64,${s.data}` } };
  }
  if (s.type === 'url' && typeof s.url === 'string') return { type: 'image_url', image_url: { url: s.url } };
  throw invalid(`${at}.source: an image source is {type:'base64', media_type, data} or {type:'url', url}`, `${at}.source`);
}

function assistantMessage(blocks: Obj[], at: string): Obj {
  blocks.forEach((b, j) => {
    if (b.type === 'tool_use' && (typeof b.id !== 'string' || typeof b.name !== 'string')) throw invalid(`${at}.content.${j}: a tool_use needs a string \`id\` and \`name\``, `${at}.content.${j}`);
  });
  const text = blocks.filter((b) => b.type === 'text' && typeof b.text === 'string').map((b) => b.text as string).join('');
  const calls = blocks
    .filter((b) => b.type === 'tool_use')
    .map((b) => ({ id: b.id as string, type: 'function', function: { name: b.name as string, arguments: JSON.stringify(b.input ?? {}) } }));
  const out: Obj = { role: 'assistant', content: text || (calls.length ? null : '') };
  if (calls.length) out.tool_calls = calls;
  return out;
}

/** A client tool (`{name, input_schema}`, optionally `type: "custom"`); server tools carry another `type`. */
function isCustomTool(t: JsonValue): t is Obj {
  return isObj(t) && (t.type === undefined || t.type === null || t.type === 'custom') && typeof t.name === 'string';
}

function tool(t: Obj): Obj {
  const fn: Obj = { name: t.name as string, parameters: isObj(t.input_schema) ? t.input_schema : { type: 'object' } };
  if (typeof t.description === 'string') fn.description = t.description;
  return { type: 'function', function: fn };
}

function applyToolChoice(choice: JsonValue | undefined, out: Obj): void {
  if (!isObj(choice)) return;
  if (choice.type === 'auto') out.tool_choice = 'auto';
  else if (choice.type === 'any') out.tool_choice = 'required';
  else if (choice.type === 'none') out.tool_choice = 'none';
  else if (choice.type === 'tool' && typeof choice.name === 'string') out.tool_choice = { type: 'function', function: { name: choice.name } };
  if (choice.disable_parallel_tool_use === true) out.parallel_tool_calls = false;
}

/**
 * What a translated attempt cannot carry: server tools (web search, code execution...), documents
 * and other non-text, non-image blocks, images inside tool results. Native attempts take them all.
 */
export function untranslatable(body: JsonObject): Error | undefined {
  if (Array.isArray(body.tools)) {
    const i = body.tools.findIndex((t) => !isCustomTool(t));
    if (i >= 0) return unsupported(`tools.${i}: only custom tools ({name, input_schema}) can be sent to this model's provider; server tools need an Anthropic model.`, `tools.${i}`);
  }
  if (!Array.isArray(body.messages)) return undefined;
  for (const [i, m] of body.messages.entries()) {
    if (!isObj(m) || !Array.isArray(m.content)) continue;
    for (const [j, b] of m.content.entries()) {
      if (!isObj(b)) continue;
      const at = `messages.${i}.content.${j}`;
      if (b.type === 'tool_result' && Array.isArray(b.content) && b.content.some((c) => isObj(c) && c.type !== 'text')) {
        return unsupported(`${at}.content: only text tool results can be sent to this model's provider.`, `${at}.content`);
      }
      const known = ['text', 'image', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking'];
      if (typeof b.type === 'string' && !known.includes(b.type)) {
        return unsupported(`${at}: \`${b.type}\` blocks can only be sent to an Anthropic model.`, at);
      }
    }
  }
  return undefined;
}
