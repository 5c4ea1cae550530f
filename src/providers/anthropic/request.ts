import type { JsonObject } from '../../domain';
import { invalidValue, unsupportedEndpoint, unsupportedParameter } from '../shared/errors';
import { parseJson, positiveInt } from '../shared/json';
import type { ChatMessage, ChatRequest, ContentPart, ToolChoice, ToolDefinition } from '../shared/openai-types';
import type { TranslationInput, UpstreamRequest } from '../types';
import {
  ANTHROPIC_VERSION,
  type ContentBlock,
  type ImageBlock,
  type ImageSource,
  type NativeMessage,
  type NativeRequest,
  type NativeTool,
  type NativeToolChoice,
  type TextBlock,
  type ToolResultBlock,
} from './native';

/** Anthropic requires `max_tokens`; this is used when the client sends neither limit. */
export const DEFAULT_MAX_TOKENS = 4096;

const JSON_OBJECT_INSTRUCTION = 'Respond with a single valid JSON object and nothing else: no prose, no Markdown code fences.';
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * The synthetic tool a `response_format: json_schema` request is answered through: Anthropic is
 * made to call it, and its input becomes the assistant's JSON content. Undefined otherwise.
 */
export function jsonSchemaToolName(body: JsonObject | undefined): string | undefined {
  const rf = (body as ChatRequest | undefined)?.response_format;
  if (!rf || typeof rf !== 'object' || rf.type !== 'json_schema') return undefined;
  const name = (rf as { json_schema?: { name?: unknown } }).json_schema?.name;
  return typeof name === 'string' && TOOL_NAME.test(name) ? name : 'json_response';
}

/** Anthropic's own paths, for a client that spoke Messages (src/surfaces/anthropic): sent as they came. */
const NATIVE_PATHS: Partial<Record<TranslationInput['endpoint'], string>> = { messages: '/messages', 'messages.count_tokens': '/messages/count_tokens' };

export function buildRequest(input: TranslationInput): UpstreamRequest {
  const { endpoint, provider, apiKey } = input;
  const nativePath = NATIVE_PATHS[endpoint];
  if (nativePath) {
    // The client's own body (or bytes, set by the core): only the credential is added here.
    const headers: Record<string, string> = { 'anthropic-version': ANTHROPIC_VERSION, ...provider.headers, 'content-type': 'application/json' };
    if (apiKey) headers['x-api-key'] = apiKey;
    return { path: provider.basePath + nativePath, headers, ...(input.body ? { body: input.body } : {}) };
  }
  if (endpoint !== 'chat.completions') {
    const message = `The Anthropic provider \`${provider.name}\` does not support the ${endpoint} endpoint; only chat completions.`;
    throw unsupportedEndpoint(message);
  }
  const headers: Record<string, string> = { 'anthropic-version': ANTHROPIC_VERSION, ...provider.headers, 'content-type': 'application/json' };
  if (apiKey) headers['x-api-key'] = apiKey;
  return { path: `${provider.basePath}/messages`, headers, body: toNative(input) as unknown as JsonObject };
}

function toNative({ body, target, stream }: TranslationInput): NativeRequest {
  const req = (body ?? {}) as ChatRequest;
  if (!Array.isArray(req.messages)) throw invalidValue('`messages` must be an array of chat messages.', 'messages', 'missing_required_parameter');
  if (typeof req.n === 'number' && req.n > 1) throw unsupportedParameter('Anthropic returns one choice per request; `n` must be 1.', 'n');
  if (req.logprobs === true) throw unsupportedParameter('Anthropic does not return log probabilities.', 'logprobs');

  const { system, messages } = convertMessages(req.messages);
  const out: NativeRequest = {
    model: target.model,
    messages,
    max_tokens: positiveInt(req.max_completion_tokens) ?? positiveInt(req.max_tokens) ?? DEFAULT_MAX_TOKENS,
  };
  if (typeof req.temperature === 'number') out.temperature = req.temperature;
  if (typeof req.top_p === 'number') out.top_p = req.top_p;
  const stop = typeof req.stop === 'string' ? [req.stop] : Array.isArray(req.stop) ? req.stop.filter((s) => typeof s === 'string') : [];
  if (stop.length) out.stop_sequences = stop;
  if (typeof req.user === 'string' && req.user) out.metadata = { user_id: req.user };
  if (stream) out.stream = true;

  applyTools(req, out, system);
  if (system.length) out.system = system.join('\n\n');
  return out;
}

/** Tools, tool_choice, parallel_tool_calls and response_format (which may add a tool). */
function applyTools(req: ChatRequest, out: NativeRequest, system: string[]): void {
  const tools: NativeTool[] = (Array.isArray(req.tools) ? req.tools : []).map(convertTool);
  let choice = tools.length ? convertToolChoice(req.tool_choice) : undefined;

  const rf = req.response_format;
  if (rf?.type === 'json_object') system.push(JSON_OBJECT_INSTRUCTION);
  const jsonTool = jsonSchemaToolName(req as unknown as JsonObject);
  if (jsonTool && rf?.type === 'json_schema') {
    const spec = rf.json_schema ?? ({} as { description?: string; schema?: Record<string, unknown> });
    tools.push({
      name: jsonTool,
      description: spec.description ?? 'Give the final answer as the input of this tool, following its schema exactly.',
      input_schema: spec.schema && typeof spec.schema === 'object' ? spec.schema : { type: 'object' },
    });
    const userTools = tools.length > 1;
    if (!userTools || choice?.type === 'none') choice = { type: 'tool', name: jsonTool };
    else system.push(`When you give your final answer, give it by calling the \`${jsonTool}\` tool, whose input is the answer.`);
  }

  if (!tools.length) return;
  out.tools = tools;
  if (req.parallel_tool_calls === false && choice?.type !== 'none') choice = { ...(choice ?? { type: 'auto' }), disable_parallel_tool_use: true };
  if (choice) out.tool_choice = choice;
}

function convertTool(t: ToolDefinition, i: number): NativeTool {
  if (!t || t.type !== 'function' || !t.function || typeof t.function.name !== 'string') {
    throw unsupportedParameter('Only `function` tools are supported by Anthropic.', `tools[${i}]`);
  }
  const tool: NativeTool = { name: t.function.name, input_schema: t.function.parameters ?? { type: 'object', properties: {} } };
  if (t.function.description) tool.description = t.function.description;
  return tool;
}

function convertToolChoice(c: ToolChoice | undefined): NativeToolChoice | undefined {
  if (c === undefined || c === null) return undefined;
  if (c === 'auto') return { type: 'auto' };
  if (c === 'none') return { type: 'none' };
  if (c === 'required') return { type: 'any' };
  if (typeof c === 'object' && c.type === 'function' && typeof c.function?.name === 'string') return { type: 'tool', name: c.function.name };
  throw invalidValue('`tool_choice` must be "auto", "none", "required" or {"type":"function","function":{"name":…}}.', 'tool_choice');
}

/** System/developer messages go to `system`; the rest become strictly alternating user/assistant turns. */
function convertMessages(messages: ChatMessage[]): { system: string[]; messages: NativeMessage[] } {
  const system: string[] = [];
  const turns: NativeMessage[] = [];
  const push = (role: NativeMessage['role'], content: ContentBlock[]): void => {
    if (!content.length) return;
    const last = turns[turns.length - 1];
    if (last && last.role === role) last.content.push(...content);
    else turns.push({ role, content });
  };

  messages.forEach((m, i) => {
    const param = `messages[${i}]`;
    if (!m || typeof m !== 'object') throw invalidValue('Each message must be an object.', param);
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = textOf(m.content, `${param}.content`);
        if (text) system.push(text);
        break;
      }
      case 'user':
        push('user', userContent(m.content, `${param}.content`));
        break;
      case 'assistant':
        push('assistant', assistantContent(m, param));
        break;
      case 'tool':
        push('user', [toolResult(m, param)]);
        break;
      default:
        throw unsupportedParameter(`Messages with role \`${String(m.role)}\` are not supported by Anthropic; use \`tool\` messages.`, `${param}.role`);
    }
  });
  // Within a user turn, tool results must come before any other content.
  for (const t of turns) {
    if (t.role === 'user' && t.content.some((b) => b.type === 'tool_result')) {
      t.content = [...t.content.filter((b) => b.type === 'tool_result'), ...t.content.filter((b) => b.type !== 'tool_result')];
    }
  }
  return { system, messages: turns };
}

function textOf(content: ChatMessage['content'], param: string): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalidValue('Message content must be a string or an array of content parts.', param);
  return content
    .map((p, j) => {
      if (p?.type === 'text' && typeof p.text === 'string') return p.text;
      throw unsupportedParameter('Only text parts are allowed here.', `${param}[${j}]`);
    })
    .join('\n');
}

function userContent(content: ChatMessage['content'], param: string): ContentBlock[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  if (!Array.isArray(content)) throw invalidValue('Message content must be a string or an array of content parts.', param);
  const blocks: ContentBlock[] = [];
  content.forEach((p, j) => {
    const block = userPart(p, `${param}[${j}]`);
    if (block) blocks.push(block);
  });
  return blocks;
}

function userPart(p: ContentPart, param: string): ContentBlock | undefined {
  if (p?.type === 'text') return typeof p.text === 'string' && p.text ? { type: 'text', text: p.text } : undefined;
  if (p?.type === 'image_url') {
    const url = (p as { image_url?: { url?: unknown } }).image_url?.url;
    if (typeof url !== 'string') throw invalidValue('`image_url.url` must be a string.', param);
    return { type: 'image', source: mediaSource(url, param) };
  }
  if (p?.type === 'file') {
    const file = (p as { file?: { file_data?: unknown; filename?: unknown } }).file;
    if (typeof file?.file_data !== 'string') throw unsupportedParameter('Only inline files (`file.file_data` data URLs) are supported by Anthropic.', param);
    const block: ContentBlock = { type: 'document', source: mediaSource(file.file_data, param) };
    if (typeof file.filename === 'string') block.title = file.filename;
    return block;
  }
  throw unsupportedParameter(`Content parts of type \`${String(p?.type)}\` are not supported by Anthropic.`, param);
}

/** `data:<type>;base64,<data>` → base64 source; http(s) URLs → url source. */
function mediaSource(url: string, param: string): ImageSource {
  if (url.startsWith('data:')) {
    const m = /^data:([^;,]+)((?:;[^;,]*)*);base64,(.*)$/s.exec(url);
    if (!m) throw invalidValue('Data URLs must be base64 encoded (`data:<media type>;base64,<data>`).', param);
    return { type: 'base64', media_type: m[1], data: m[3] };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'url', url };
  throw invalidValue('Image URLs must be https URLs or base64 data URLs.', param);
}

function assistantContent(m: ChatMessage, param: string): ContentBlock[] {
  const blocks: ContentBlock[] = [];
  if (typeof m.content === 'string') {
    if (m.content) blocks.push({ type: 'text', text: m.content });
  } else if (Array.isArray(m.content)) {
    m.content.forEach((p, j) => {
      const text = p?.type === 'text' ? p.text : p?.type === 'refusal' ? (p as { refusal?: unknown }).refusal : undefined;
      if (typeof text !== 'string') throw unsupportedParameter('Assistant content parts must be text or refusal parts.', `${param}.content[${j}]`);
      if (text) blocks.push({ type: 'text', text });
    });
  } else if (m.content !== undefined && m.content !== null) {
    throw invalidValue('Message content must be a string or an array of content parts.', `${param}.content`);
  }
  (Array.isArray(m.tool_calls) ? m.tool_calls : []).forEach((tc, j) => {
    const p = `${param}.tool_calls[${j}]`;
    if (!tc || typeof tc.id !== 'string' || typeof tc.function?.name !== 'string') throw invalidValue('Tool calls need an `id` and a `function.name`.', p);
    blocks.push({ type: 'tool_use', id: tc.id, name: tc.function.name, input: parseArguments(tc.function.arguments, `${p}.function.arguments`) });
  });
  return blocks;
}

function parseArguments(args: unknown, param: string): unknown {
  if (args === undefined || args === null || args === '') return {};
  if (typeof args !== 'string') return args;
  const parsed = parseJson(args);
  if (parsed === undefined) throw invalidValue('Tool call arguments must be a JSON object encoded as a string.', param);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidValue('Tool call arguments must be a JSON object.', param);
  return parsed;
}

function toolResult(m: ChatMessage, param: string): ToolResultBlock {
  if (typeof m.tool_call_id !== 'string' || !m.tool_call_id) throw invalidValue('Tool messages need a `tool_call_id`.', `${param}.tool_call_id`);
  const block: ToolResultBlock = { type: 'tool_result', tool_use_id: m.tool_call_id, content: toolResultContent(m.content, `${param}.content`) };
  // Not part of OpenAI's schema, but some clients flag failed tool runs this way.
  if ((m as { is_error?: unknown }).is_error === true) block.is_error = true;
  return block;
}

function toolResultContent(content: ChatMessage['content'], param: string): ToolResultBlock['content'] {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalidValue('Message content must be a string or an array of content parts.', param);
  const blocks: (TextBlock | ImageBlock)[] = [];
  content.forEach((p, j) => {
    const block = userPart(p, `${param}[${j}]`);
    if (block && block.type !== 'text' && block.type !== 'image') throw unsupportedParameter('Tool results may hold text and images only.', `${param}[${j}]`);
    if (block) blocks.push(block);
  });
  return blocks.length ? blocks : '';
}
