import type { JsonObject } from '../../domain';
import { ownValue } from '../../domain/own';
import { invalidValue, unsupportedEndpoint, unsupportedParameter } from '../shared/errors';
import { isObj, parseJson, type Obj } from '../shared/json';
import type { ChatMessage, ContentPart, ToolDefinition } from '../shared/openai-types';
import type { TranslationInput, UpstreamRequest } from '../types';
import { signatureOf, type GeminiContent, type GeminiPart } from './native';
import { toGeminiSchema } from './schema';

/** OpenAI chat completions / embeddings request → Gemini generateContent / batchEmbedContents. */

/** `models/gemini-2.0-flash` for `gemini-2.0-flash`; `tunedModels/x` and `models/x` stay as they are. */
export const modelResource = (model: string): string => (model.includes('/') ? model : `models/${model}`);

/**
 * The model resource as URL path segments. The model name comes from the client (through a
 * pattern like `gemini-*`): encoded, and no empty, `.` or `..` segment that would reach another
 * path with the provider's credential.
 */
export function modelPath(model: string): string {
  const segments = modelResource(model).split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) throw invalidValue(`The model \`${model}\` is not a valid Gemini model name.`, 'model');
  return segments.map(encodeURIComponent).join('/');
}

export function buildRequest(input: TranslationInput): UpstreamRequest {
  const { endpoint, body, target, provider, apiKey } = input;
  const headers: Record<string, string> = { ...provider.headers };
  if (apiKey) headers['x-goog-api-key'] = apiKey;
  const base = `${provider.basePath}/${modelPath(target.model)}`;
  if (endpoint === 'chat.completions') {
    const stream = input.stream || body?.stream === true;
    return {
      path: stream ? `${base}:streamGenerateContent?alt=sse` : `${base}:generateContent`,
      headers,
      body: chatBody((body ?? {}) as Obj),
    };
  }
  if (endpoint === 'embeddings') {
    return { path: `${base}:batchEmbedContents`, headers, body: embeddingsBody((body ?? {}) as Obj, target.model) };
  }
  throw unsupportedEndpoint(`The Gemini API provider \`${provider.name}\` does not support the ${endpoint} endpoint.`);
}

// ---------------------------------------------------------------------------------------------
// Chat

export function chatBody(body: Obj): JsonObject {
  if (!Array.isArray(body.messages)) throw invalidValue('`messages` must be an array of messages.', 'messages', 'invalid_type');
  const { system, contents } = convertMessages(body.messages as ChatMessage[]);
  const out: Obj = {};
  if (contents.length === 0) {
    if (system.length === 0) throw invalidValue('`messages` must contain at least one message.', 'messages', 'empty_array');
    // Gemini needs at least one content: a system-only prompt becomes the user turn.
    out.contents = [{ role: 'user', parts: system }];
  } else {
    out.contents = contents;
    if (system.length) out.systemInstruction = { parts: system };
  }

  const declarations = functionDeclarations(body);
  if (declarations.length) {
    out.tools = [{ functionDeclarations: declarations }];
    const config = functionCallingConfig(body.tool_choice ?? body.function_call);
    if (config) out.toolConfig = { functionCallingConfig: config };
  }

  const gen = generationConfig(body);
  if (Object.keys(gen).length) out.generationConfig = gen;
  return out as JsonObject;
}

function convertMessages(messages: ChatMessage[]): { system: GeminiPart[]; contents: GeminiContent[] } {
  const system: GeminiPart[] = [];
  const contents: GeminiContent[] = [];
  /** Tool-call id → function name, from the assistant turns seen so far. */
  const callNames = new Map<string, string>();
  const push = (role: 'user' | 'model', parts: GeminiPart[]) => {
    if (!parts.length) return;
    const last = contents[contents.length - 1];
    // Gemini wants user and model turns to alternate: runs of one role are merged.
    if (last?.role === role) last.parts!.push(...parts);
    else contents.push({ role, parts });
  };

  messages.forEach((m, i) => {
    if (!isObj(m)) throw invalidValue(`messages[${i}] must be an object.`, `messages[${i}]`, 'invalid_type');
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(...textParts(m.content, i));
        break;
      case 'user':
        push('user', userParts(m.content, i));
        break;
      case 'assistant':
        push('model', assistantParts(m, i, callNames));
        break;
      case 'tool':
      case 'function': {
        const name = m.role === 'tool' ? (callNames.get(m.tool_call_id ?? '') ?? m.name) : m.name;
        if (!name) {
          throw invalidValue(`messages[${i}].tool_call_id \`${m.tool_call_id ?? ''}\` does not match a tool call of an earlier assistant message.`, `messages[${i}].tool_call_id`);
        }
        push('user', [{ functionResponse: { name, response: toolResponse(m.content) } }]);
        break;
      }
      default:
        throw invalidValue(`messages[${i}].role \`${String((m as { role?: unknown }).role)}\` is not supported.`, `messages[${i}].role`);
    }
  });
  return { system, contents };
}

function partsOf(content: ChatMessage['content']): ContentPart[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (Array.isArray(content)) return content;
  return [];
}

function textParts(content: ChatMessage['content'], i: number): GeminiPart[] {
  const out: GeminiPart[] = [];
  for (const p of partsOf(content)) {
    if (p.type !== 'text') throw invalidValue(`messages[${i}]: only text content is supported in system messages.`, `messages[${i}].content`);
    if (typeof p.text === 'string' && p.text) out.push({ text: p.text });
  }
  return out;
}

function userParts(content: ChatMessage['content'], i: number): GeminiPart[] {
  const out: GeminiPart[] = [];
  for (const p of partsOf(content)) {
    const part = p as Obj;
    switch (p.type) {
      case 'text':
        if (typeof part.text === 'string' && part.text) out.push({ text: part.text });
        break;
      case 'image_url': {
        const image = part.image_url;
        const url = typeof image === 'string' ? image : isObj(image) ? image.url : undefined;
        if (typeof url !== 'string' || !url) throw invalidValue(`messages[${i}]: image_url.url is required.`, `messages[${i}].content`);
        out.push(mediaPart(url, i));
        break;
      }
      case 'input_audio': {
        const audio = part.input_audio as { data?: unknown; format?: unknown } | undefined;
        if (!audio || typeof audio.data !== 'string') throw invalidValue(`messages[${i}]: input_audio.data is required.`, `messages[${i}].content`);
        const format = typeof audio.format === 'string' ? audio.format : 'wav';
        out.push({ inlineData: { mimeType: `audio/${format === 'mp3' ? 'mp3' : format}`, data: audio.data } });
        break;
      }
      case 'file': {
        const file = isObj(part.file) ? part.file : {};
        if (typeof file.file_data === 'string') out.push(mediaPart(file.file_data, i));
        else if (typeof file.file_id === 'string' && /^(https?|gs):\/\//.test(file.file_id)) out.push(mediaPart(file.file_id, i));
        else throw unsupportedParameter('File parts need `file_data` (a data URL) or a file URI for the Gemini API.', `messages[${i}].content`);
        break;
      }
      default:
        throw unsupportedParameter(`Content parts of type \`${String(p.type)}\` are not supported by the Gemini API.`, `messages[${i}].content`);
    }
  }
  return out;
}

const MIME_BY_EXT: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
  bmp: 'image/bmp',
  pdf: 'application/pdf',
  wav: 'audio/wav',
  mp3: 'audio/mp3',
  mp4: 'video/mp4',
};

export function mimeFromUrl(url: string): string {
  let pathname = url;
  try {
    pathname = new URL(url).pathname;
  } catch {
    // not a URL: look at the string itself
  }
  const ext = /\.([a-z0-9]+)$/i.exec(pathname)?.[1]?.toLowerCase();
  return (ext && ownValue(MIME_BY_EXT, ext)) || 'image/jpeg';
}

/** A `data:` URL becomes inline data; any other URL a file reference. */
function mediaPart(url: string, i: number): GeminiPart {
  if (url.startsWith('data:')) {
    const m = /^data:([^;,]*)((?:;[^;,]*)*?)(;base64)?,(.*)$/s.exec(url);
    if (!m) throw invalidValue(`messages[${i}]: the data URL is malformed.`, `messages[${i}].content`);
    const mimeType = m[1] || 'application/octet-stream';
    const data = m[3] ? m[4] : Buffer.from(decodeURIComponent(m[4]), 'utf8').toString('base64');
    return { inlineData: { mimeType, data } };
  }
  return { fileData: { mimeType: mimeFromUrl(url), fileUri: url } };
}

function parseArguments(args: unknown, i: number): Obj {
  if (isObj(args)) return args;
  if (typeof args !== 'string' || args.trim() === '') return {};
  const parsed = parseJson(args);
  if (parsed === undefined) throw invalidValue(`messages[${i}]: tool call arguments are not valid JSON.`, `messages[${i}].tool_calls`);
  return isObj(parsed) ? parsed : { value: parsed };
}

function assistantParts(m: ChatMessage, i: number, callNames: Map<string, string>): GeminiPart[] {
  const out: GeminiPart[] = [];
  for (const p of partsOf(m.content)) {
    if (p.type === 'text' && typeof p.text === 'string' && p.text) out.push({ text: p.text });
    // refusal parts are not replayed: Gemini has no equivalent.
  }
  const calls = Array.isArray(m.tool_calls) ? m.tool_calls : [];
  for (const call of calls) {
    if (!isObj(call) || !isObj(call.function) || typeof call.function.name !== 'string') {
      throw invalidValue(`messages[${i}].tool_calls: each tool call needs function.name.`, `messages[${i}].tool_calls`);
    }
    if (typeof call.id === 'string') callNames.set(call.id, call.function.name);
    const part: GeminiPart = { functionCall: { name: call.function.name, args: parseArguments(call.function.arguments, i) } };
    const signature = signatureOf(call.id);
    if (signature) part.thoughtSignature = signature;
    out.push(part);
  }
  const legacy = (m as { function_call?: unknown }).function_call;
  if (isObj(legacy) && typeof legacy.name === 'string') {
    out.push({ functionCall: { name: legacy.name, args: parseArguments(legacy.arguments, i) } });
  }
  return out;
}

/** Tool output → `functionResponse.response`, which must be a JSON object. */
function toolResponse(content: ChatMessage['content']): Obj {
  const text = partsOf(content)
    .map((p) => (p.type === 'text' && typeof p.text === 'string' ? p.text : ''))
    .join('');
  const parsed = parseJson(text);
  // Not JSON: a plain text result (`null` is JSON, so not `??`).
  const value = parsed === undefined ? text : parsed;
  return isObj(value) ? value : { result: value };
}

// ---------------------------------------------------------------------------------------------
// Tools

function functionDeclarations(body: Obj): Obj[] {
  const defs: { name: string; description?: string; parameters?: unknown }[] = [];
  if (Array.isArray(body.tools)) {
    (body.tools as ToolDefinition[]).forEach((t, i) => {
      if (!isObj(t) || t.type !== 'function' || !isObj(t.function)) {
        throw unsupportedParameter(`tools[${i}]: only function tools are supported by the Gemini API.`, `tools[${i}].type`);
      }
      defs.push(t.function);
    });
  } else if (Array.isArray(body.functions)) {
    for (const f of body.functions) if (isObj(f)) defs.push(f as (typeof defs)[number]);
  }
  return defs.map((f, i) => {
    if (typeof f.name !== 'string' || !f.name) throw invalidValue(`tools[${i}].function.name is required.`, `tools[${i}].function.name`, 'missing_required_parameter');
    const decl: Obj = { name: f.name };
    if (typeof f.description === 'string') decl.description = f.description;
    const params = toGeminiSchema(f.parameters);
    // Gemini rejects an OBJECT schema without properties: a function without arguments has none.
    if (params && !(String(params.type).toLowerCase() === 'object' && !(isObj(params.properties) && Object.keys(params.properties).length))) {
      decl.parameters = params;
    }
    return decl;
  });
}

function functionCallingConfig(choice: unknown): Obj | undefined {
  if (choice === undefined || choice === null) return undefined;
  if (choice === 'auto') return { mode: 'AUTO' };
  if (choice === 'none') return { mode: 'NONE' };
  if (choice === 'required' || choice === 'any') return { mode: 'ANY' };
  if (isObj(choice)) {
    const name = isObj(choice.function) ? choice.function.name : choice.name;
    if (typeof name === 'string' && name) return { mode: 'ANY', allowedFunctionNames: [name] };
    if (choice.type === 'allowed_tools' && isObj(choice.allowed_tools)) {
      const at = choice.allowed_tools;
      const names = (Array.isArray(at.tools) ? at.tools : [])
        .map((t) => (isObj(t) && isObj(t.function) ? t.function.name : undefined))
        .filter((n): n is string => typeof n === 'string');
      return at.mode === 'required' ? { mode: 'ANY', allowedFunctionNames: names } : { mode: 'AUTO' };
    }
  }
  throw invalidValue('`tool_choice` must be "auto", "none", "required" or a named function.', 'tool_choice');
}

// ---------------------------------------------------------------------------------------------
// Generation parameters

const THINKING_BUDGET: Record<string, number> = { none: 0, minimal: 512, low: 1024, medium: 8192, high: 24576 };

function generationConfig(body: Obj): Obj {
  const gen: Obj = {};
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (typeof maxTokens === 'number') gen.maxOutputTokens = maxTokens;
  if (typeof body.temperature === 'number') gen.temperature = body.temperature;
  if (typeof body.top_p === 'number') gen.topP = body.top_p;
  if (typeof body.stop === 'string') gen.stopSequences = [body.stop];
  else if (Array.isArray(body.stop) && body.stop.length) gen.stopSequences = body.stop.filter((s) => typeof s === 'string');
  if (body.n !== undefined && body.n !== null) {
    if (typeof body.n !== 'number' || !Number.isInteger(body.n) || body.n < 1) throw invalidValue('`n` must be a positive integer.', 'n');
    if (body.n > 1) gen.candidateCount = body.n;
  }
  if (typeof body.seed === 'number') gen.seed = body.seed;
  if (typeof body.presence_penalty === 'number') gen.presencePenalty = body.presence_penalty;
  if (typeof body.frequency_penalty === 'number') gen.frequencyPenalty = body.frequency_penalty;
  const budget = typeof body.reasoning_effort === 'string' ? ownValue(THINKING_BUDGET, body.reasoning_effort) : undefined;
  if (budget !== undefined) gen.thinkingConfig = { thinkingBudget: budget };
  const rf = body.response_format;
  if (isObj(rf)) {
    if (rf.type === 'json_object') gen.responseMimeType = 'application/json';
    else if (rf.type === 'json_schema') {
      gen.responseMimeType = 'application/json';
      const schema = toGeminiSchema(isObj(rf.json_schema) ? rf.json_schema.schema : undefined);
      if (schema) gen.responseSchema = schema;
    } else if (rf.type !== 'text') throw invalidValue(`response_format.type \`${String(rf.type)}\` is not supported.`, 'response_format');
  }
  return gen;
}

// ---------------------------------------------------------------------------------------------
// Embeddings

export function embeddingsBody(body: Obj, model: string): JsonObject {
  const raw = body.input;
  const inputs = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : undefined;
  if (!inputs || inputs.length === 0) throw invalidValue('`input` must be a string or a non-empty array of strings.', 'input', 'invalid_type');
  if (!inputs.every((s): s is string => typeof s === 'string')) {
    throw unsupportedParameter('The Gemini API embeds text only: token-id arrays are not supported.', 'input');
  }
  const resource = modelResource(model);
  const requests = inputs.map((text) => {
    const r: Obj = { model: resource, content: { parts: [{ text }] } };
    if (typeof body.dimensions === 'number') r.outputDimensionality = body.dimensions;
    return r;
  });
  return { requests } as JsonObject;
}
