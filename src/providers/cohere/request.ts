import type { JsonObject, JsonValue } from '../../domain';
import { invalidValue, unsupportedEndpoint, unsupportedParameter } from '../shared/errors';
import { isObj, type Obj } from '../shared/json';
import type { ChatMessage, ChatRequest, ContentPart, EmbeddingsRequest, ToolDefinition } from '../shared/openai-types';
import type { TranslationInput, UpstreamRequest } from '../types';

/**
 * OpenAI chat completions and embeddings → Cohere API v2 (`POST /v2/chat`, `POST /v2/embed`).
 * Reference: https://docs.cohere.com/reference/chat and https://docs.cohere.com/reference/embed
 */

export function cohereHeaders(input: TranslationInput, stream: boolean): Record<string, string> {
  const headers: Record<string, string> = { ...input.provider.headers };
  if (input.apiKey) headers.authorization = `Bearer ${input.apiKey}`;
  // Ask for server-sent events explicitly on streams (the JSON default otherwise).
  headers.accept = stream ? 'text/event-stream' : 'application/json';
  headers['content-type'] = 'application/json';
  return headers;
}

export function buildRequest(input: TranslationInput): UpstreamRequest {
  const base = input.provider.basePath;
  if (input.endpoint === 'chat.completions') {
    return { path: `${base}/chat`, headers: cohereHeaders(input, input.stream), body: chatBody(input) };
  }
  if (input.endpoint === 'embeddings') {
    return { path: `${base}/embed`, headers: cohereHeaders(input, false), body: embedBody(input) };
  }
  throw unsupportedEndpoint(`The Cohere provider does not support the ${input.endpoint} endpoint; use chat completions or embeddings.`);
}

// ---------------------------------------------------------------------------------------------
// Chat

function chatBody(input: TranslationInput): JsonObject {
  const req = (input.body ?? {}) as unknown as ChatRequest;
  if (!Array.isArray(req.messages) || req.messages.length === 0) throw invalidValue('messages must be a non-empty array.', 'messages');
  if (req.n !== undefined && req.n !== null && req.n !== 1) throw unsupportedParameter('Cohere returns one choice per request; n must be 1.', 'n');

  const out: Obj = { model: input.target.model, messages: req.messages.map((m, i) => message(m, i)) };
  if (input.stream) out.stream = true;

  const maxTokens = req.max_completion_tokens ?? req.max_tokens;
  if (typeof maxTokens === 'number') out.max_tokens = maxTokens;
  if (typeof req.temperature === 'number') out.temperature = req.temperature;
  if (typeof req.top_p === 'number') out.p = req.top_p;
  if (typeof req.seed === 'number') out.seed = req.seed;
  if (typeof req.frequency_penalty === 'number') out.frequency_penalty = req.frequency_penalty;
  if (typeof req.presence_penalty === 'number') out.presence_penalty = req.presence_penalty;
  if (typeof req.stop === 'string') out.stop_sequences = [req.stop];
  else if (Array.isArray(req.stop) && req.stop.length) out.stop_sequences = req.stop;

  tools(req, out);
  responseFormat(req, out);
  return out as JsonObject;
}

function tools(req: ChatRequest, out: Obj): void {
  let list: ToolDefinition[] = Array.isArray(req.tools) ? req.tools : [];
  const choice = req.tool_choice;
  if (choice === 'none') {
    if (list.length) out.tool_choice = 'NONE';
  } else if (choice === 'required') {
    out.tool_choice = 'REQUIRED';
  } else if (isObj(choice)) {
    // Cohere has no named choice: force a call and offer only the named tool.
    const name = (choice as { function?: { name?: unknown } }).function?.name;
    const only = list.filter((t) => t?.function?.name === name);
    if (typeof name !== 'string' || only.length === 0) throw invalidValue(`tool_choice names a tool that is not in tools: ${String(name)}.`, 'tool_choice');
    list = only;
    out.tool_choice = 'REQUIRED';
  } else if (choice !== undefined && choice !== null && choice !== 'auto') {
    throw invalidValue(`Unsupported tool_choice: ${JSON.stringify(choice)}.`, 'tool_choice');
  }
  if (!list.length) {
    if (out.tool_choice === 'REQUIRED') throw invalidValue('tool_choice requires tools.', 'tool_choice');
    return;
  }
  out.tools = list.map((t, i) => {
    if (t?.type !== 'function' || !isObj(t.function) || typeof t.function.name !== 'string') {
      throw unsupportedParameter('Only function tools are supported by Cohere.', `tools[${i}]`);
    }
    const fn: Obj = { name: t.function.name };
    if (t.function.description !== undefined) fn.description = t.function.description;
    fn.parameters = t.function.parameters ?? { type: 'object', properties: {} };
    return { type: 'function', function: fn };
  });
  if (list.some((t) => t.function.strict === true)) out.strict_tools = true;
}

function responseFormat(req: ChatRequest, out: Obj): void {
  const rf = req.response_format;
  if (!rf || rf.type === 'text') return;
  if (rf.type === 'json_object') out.response_format = { type: 'json_object' };
  else if (rf.type === 'json_schema') {
    const schema = (rf as { json_schema?: { schema?: unknown } }).json_schema?.schema;
    out.response_format = isObj(schema) ? { type: 'json_object', json_schema: schema } : { type: 'json_object' };
  } else throw unsupportedParameter(`Unsupported response_format type: ${String((rf as { type?: unknown }).type)}.`, 'response_format');
}

function message(m: ChatMessage, i: number): Obj {
  if (!isObj(m)) throw invalidValue('Each message must be an object.', `messages[${i}]`);
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: textOnly(m.content, i) };
    case 'user':
      return { role: 'user', content: userContent(m.content, i) };
    case 'assistant':
      return assistant(m, i);
    case 'tool':
      if (typeof m.tool_call_id !== 'string') throw invalidValue('Tool messages need a tool_call_id.', `messages[${i}].tool_call_id`);
      return { role: 'tool', tool_call_id: m.tool_call_id, content: textOnly(m.content, i) };
    default:
      throw unsupportedParameter(`The message role \`${String(m.role)}\` is not supported by Cohere; use tool messages.`, `messages[${i}].role`);
  }
}

function assistant(m: ChatMessage, i: number): Obj {
  const text = m.content === null || m.content === undefined ? '' : textOnly(m.content, i);
  const out: Obj = { role: 'assistant' };
  if (Array.isArray(m.tool_calls) && m.tool_calls.length) {
    out.tool_calls = m.tool_calls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.function?.name, arguments: c.function?.arguments ?? '{}' },
    }));
    // Cohere calls the text that comes with tool calls the tool plan.
    if (text) out.tool_plan = text;
  } else out.content = text;
  return out;
}

/** Text parts joined into one string (system, assistant and tool content are text only). */
function textOnly(content: ChatMessage['content'], i: number): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) throw invalidValue('content must be a string or an array of parts.', `messages[${i}].content`);
  return content
    .map((p) => {
      if (p?.type !== 'text' || typeof (p as { text?: unknown }).text !== 'string') {
        throw unsupportedParameter(`Content parts of type \`${String(p?.type)}\` are only supported in user messages.`, `messages[${i}].content`);
      }
      return (p as { text: string }).text;
    })
    .join('');
}

function userContent(content: ChatMessage['content'], i: number): string | JsonValue[] {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) throw invalidValue('content must be a string or an array of parts.', `messages[${i}].content`);
  return content.map((p: ContentPart): JsonValue => {
    if (p?.type === 'text' && typeof (p as { text?: unknown }).text === 'string') return { type: 'text', text: (p as { text: string }).text };
    if (p?.type === 'image_url') {
      const img = (p as { image_url?: { url?: unknown; detail?: unknown } }).image_url;
      if (!img || typeof img.url !== 'string') throw invalidValue('image_url parts need an image_url.url.', `messages[${i}].content`);
      const image: Obj = { url: img.url };
      if (img.detail === 'auto' || img.detail === 'low' || img.detail === 'high') image.detail = img.detail;
      return { type: 'image_url', image_url: image } as JsonValue;
    }
    throw unsupportedParameter(`Content parts of type \`${String(p?.type)}\` are not supported by Cohere.`, `messages[${i}].content`);
  });
}

// ---------------------------------------------------------------------------------------------
// Embeddings

function embedBody(input: TranslationInput): JsonObject {
  const req = (input.body ?? {}) as unknown as EmbeddingsRequest;
  const texts = typeof req.input === 'string' ? [req.input] : req.input;
  if (!Array.isArray(texts) || texts.length === 0) throw invalidValue('input must be a string or a non-empty array of strings.', 'input');
  if (!texts.every((t) => typeof t === 'string')) throw unsupportedParameter('Cohere embeds text only; token-array input is not supported.', 'input');
  const out: Obj = {
    model: input.target.model,
    texts,
    input_type: 'search_document',
    embedding_types: ['float'],
  };
  if (typeof req.dimensions === 'number') out.output_dimension = req.dimensions;
  return out as JsonObject;
}
