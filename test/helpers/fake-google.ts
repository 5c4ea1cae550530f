import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { sendJson as sendJsonBase, startRecordingServer, type FakeServer, type Handler } from './fake-server';

export type { Handler, RecordedRequest } from './fake-server';
/** `url` is the base URL including the API version path (`http://127.0.0.1:PORT/v1beta`). */
export type FakeGoogle = FakeServer;

/**
 * A fake Gemini API (generativelanguage.googleapis.com/v1beta) following the published wire
 * format: `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`
 * (CRLF-framed `data:` events, no `[DONE]`; without `alt=sse` a JSON array), and
 * `:batchEmbedContents`; `x-goog-api-key` (or `?key=`) authentication; Google's
 * `{"error":{"code","message","status"}}` bodies. Unknown request fields are refused with 400
 * INVALID_ARGUMENT as the real API does. Every request is recorded for assertions.
 */

export const TEXT_USAGE = { promptTokenCount: 9, candidatesTokenCount: 3, thoughtsTokenCount: 2, cachedContentTokenCount: 4, totalTokenCount: 14 };
export const TOOL_USAGE = { promptTokenCount: 20, candidatesTokenCount: 7, totalTokenCount: 27 };
export const TOOL_ARGS = [{ city: 'Paris', unit: 'celsius' }, { tz: 'Europe/Paris' }];

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  sendJsonBase(res, status, body, { 'content-type': 'application/json; charset=UTF-8' });
}

const STATUS: Record<number, string> = { 400: 'INVALID_ARGUMENT', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL' };

export function sendError(res: http.ServerResponse, code: number, message: string, details?: object[]): void {
  sendJson(res, code, { error: { code, message, status: STATUS[code] ?? 'UNKNOWN', ...(details ? { details } : {}) } });
}

const REQUEST_FIELDS = new Set(['contents', 'systemInstruction', 'tools', 'toolConfig', 'generationConfig', 'safetySettings', 'cachedContent']);
const GENERATION_FIELDS = new Set([
  'stopSequences',
  'responseMimeType',
  'responseSchema',
  'responseJsonSchema',
  'candidateCount',
  'maxOutputTokens',
  'temperature',
  'topP',
  'topK',
  'seed',
  'presencePenalty',
  'frequencyPenalty',
  'responseLogprobs',
  'logprobs',
  'thinkingConfig',
  'responseModalities',
]);
const SCHEMA_FIELDS = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
]);

/** The first field the real API would reject ("Invalid JSON payload received. Unknown name ..."). */
function unknownSchemaField(schema: any, at: string): string | undefined {
  if (!schema || typeof schema !== 'object') return undefined;
  for (const [k, v] of Object.entries(schema)) {
    if (!SCHEMA_FIELDS.has(k)) return `${at}.${k}`;
    if (k === 'properties') {
      for (const [name, sub] of Object.entries(v as object)) {
        const bad = unknownSchemaField(sub, `${at}.properties[${name}]`);
        if (bad) return bad;
      }
    } else if (k === 'items') {
      const bad = unknownSchemaField(v, `${at}.items`);
      if (bad) return bad;
    } else if (k === 'anyOf') {
      for (const [i, sub] of (v as any[]).entries()) {
        const bad = unknownSchemaField(sub, `${at}.anyOf[${i}]`);
        if (bad) return bad;
      }
    }
  }
  return undefined;
}

function validate(body: any): string | undefined {
  if (!body || typeof body !== 'object') return 'Invalid JSON payload received.';
  for (const k of Object.keys(body)) if (!REQUEST_FIELDS.has(k)) return `Invalid JSON payload received. Unknown name "${k}": Cannot find field.`;
  for (const k of Object.keys(body.generationConfig ?? {})) {
    if (!GENERATION_FIELDS.has(k)) return `Invalid JSON payload received. Unknown name "${k}" at 'generation_config': Cannot find field.`;
  }
  if (!Array.isArray(body.contents) || body.contents.length === 0) return '* GenerateContentRequest.contents: contents is not specified';
  for (const [i, c] of body.contents.entries()) {
    if (c.role !== 'user' && c.role !== 'model') return `Please use a valid role: user, model. (contents[${i}])`;
    if (!Array.isArray(c.parts) || c.parts.length === 0) return `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`;
  }
  for (const [t, tool] of (body.tools ?? []).entries()) {
    for (const [d, decl] of (tool.functionDeclarations ?? []).entries()) {
      const bad = unknownSchemaField(decl.parameters, `tools[${t}].function_declarations[${d}].parameters`);
      if (bad) return `Invalid JSON payload received. Unknown name at '${bad}': Cannot find field.`;
    }
  }
  const bad = unknownSchemaField(body.generationConfig?.responseSchema, 'generation_config.response_schema');
  if (bad) return `Invalid JSON payload received. Unknown name at '${bad}': Cannot find field.`;
  return undefined;
}

/** A value matching a (Gemini) schema, for JSON-mode answers. */
function sample(schema: any): unknown {
  const type = String(schema?.type ?? 'object').toLowerCase();
  if (Array.isArray(schema?.enum) && schema.enum.length) return schema.enum[0];
  if (type === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(schema?.properties ?? {})) out[k] = sample(v);
    return out;
  }
  if (type === 'array') return [sample(schema.items)];
  if (type === 'integer') return 42;
  if (type === 'number') return 1.5;
  if (type === 'boolean') return true;
  return 'Paris';
}

const textOf = (parts: any[] = []): string =>
  parts
    .filter((p) => typeof p.text === 'string')
    .map((p) => p.text)
    .join(' ');

/** What the model answers: parts per candidate, and usage. */
function answer(body: any): { parts: any[]; usage: object } {
  const lastUser = [...body.contents].reverse().find((c: any) => c.role === 'user');
  const responses = (lastUser?.parts ?? []).filter((p: any) => p.functionResponse);
  const declarations: any[] = (body.tools ?? []).flatMap((t: any) => t.functionDeclarations ?? []);
  const fc = body.toolConfig?.functionCallingConfig ?? {};
  const allowed = fc.allowedFunctionNames ? declarations.filter((d) => fc.allowedFunctionNames.includes(d.name)) : declarations;
  if (allowed.length && !responses.length && fc.mode !== 'NONE') {
    const calls = allowed.slice(0, 2).map((d, i) => ({ functionCall: { name: d.name, args: TOOL_ARGS[i] } }));
    return { parts: calls, usage: TOOL_USAGE };
  }
  const text = textOf(lastUser?.parts);
  if (body.generationConfig?.responseMimeType === 'application/json') {
    const schema = body.generationConfig.responseSchema;
    return { parts: [{ text: JSON.stringify(schema ? sample(schema) : { echo: text }) }], usage: TEXT_USAGE };
  }
  if (!text && responses.length) {
    const summary = responses.map((p: any) => `${p.functionResponse.name}=${JSON.stringify(p.functionResponse.response)}`).join('; ');
    return { parts: [{ text: `tool results: ${summary}` }], usage: TEXT_USAGE };
  }
  return { parts: [{ text: `echo: ${text}` }], usage: TEXT_USAGE };
}

const defaultHandler: Handler = (req, res) => {
  const url = new URL(req.path, 'http://fake');
  const m = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent|batchEmbedContents)$/.exec(url.pathname);
  if (req.method !== 'POST' || !m) return sendError(res, 404, `Method not found: ${req.method} ${url.pathname}`);
  const [, model, method] = m;
  if (model.includes('error-429')) return sendError(res, 429, 'Resource has been exhausted (e.g. check quota).');
  if (model.includes('error-500')) return sendError(res, 500, 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting');
  const body = req.json;

  if (method === 'batchEmbedContents') {
    if (!Array.isArray(body?.requests) || body.requests.length === 0) return sendError(res, 400, '* BatchEmbedContentsRequest.requests: requests is not specified');
    const embeddings = [];
    for (const [i, r] of body.requests.entries()) {
      if (r.model !== `models/${model}`) {
        return sendError(res, 400, `* BatchEmbedContentsRequest.requests[${i}].model: Model "${r.model}" does not match the batch request model "models/${model}"`);
      }
      const text = textOf(r.content?.parts);
      const dims = r.outputDimensionality ?? 8;
      const seed = [...text].reduce((a, c) => a + c.charCodeAt(0), 0);
      embeddings.push({ values: Array.from({ length: dims }, (_, k) => ((seed + k) % 100) / 100) });
    }
    return sendJson(res, 200, { embeddings });
  }

  const invalid = validate(body);
  if (invalid) return sendError(res, 400, invalid);
  const { parts, usage } = answer(body);
  const n = body.generationConfig?.candidateCount ?? 1;
  const responseId = randomBytes(9).toString('base64url');
  const envelope = (candidates: object[], usageMetadata: object) => ({ candidates, usageMetadata, modelVersion: model, responseId });
  const candidate = (index: number, p: object[], finishReason?: string) => ({ content: { parts: p, role: 'model' }, ...(finishReason ? { finishReason } : {}), index });

  if (method === 'generateContent') {
    return sendJson(res, 200, envelope(Array.from({ length: n }, (_, i) => candidate(i, parts, 'STOP')), usage));
  }

  // Text is streamed a few words at a time; function calls arrive whole, one per event.
  const pieces: object[][] = parts[0]?.text !== undefined ? (String(parts[0].text).match(/\S+\s*/g) ?? ['']).map((t) => [{ text: t }]) : parts.map((p) => [p]);
  const events = pieces.map((p, i) => {
    const last = i === pieces.length - 1;
    const partial = { promptTokenCount: (usage as any).promptTokenCount, totalTokenCount: (usage as any).promptTokenCount };
    return envelope(
      Array.from({ length: n }, (_, c) => candidate(c, p, last ? 'STOP' : undefined)),
      last ? usage : partial,
    );
  });
  if (url.searchParams.get('alt') !== 'sse') return sendJson(res, 200, events);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const ev of events) res.write(`data: ${JSON.stringify(ev)}\r\n\r\n`);
  res.end();
};

export function startFakeGoogle(opts: { apiKey?: string } = {}): Promise<FakeGoogle> {
  return startRecordingServer('/v1beta', async (rec, res, handler) => {
    const key = (rec.headers['x-goog-api-key'] as string | undefined) ?? new URL(rec.path, 'http://fake').searchParams.get('key') ?? undefined;
    if (!key) {
      sendError(res, 403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
      return;
    }
    if (opts.apiKey !== undefined && key !== opts.apiKey) {
      sendError(res, 400, 'API key not valid. Please pass a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
      ]);
      return;
    }
    if (rec.body && rec.json === undefined) {
      sendError(res, 400, 'Invalid JSON payload received.');
      return;
    }
    await (handler ?? defaultHandler)(rec, res);
  });
}
