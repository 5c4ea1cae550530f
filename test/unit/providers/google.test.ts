import { SseParser } from '../../../src/domain/sse';
import { GatewayError } from '../../../src/domain/errors';
import type { Endpoint, JsonObject, JsonValue } from '../../../src/domain';
import { toRuntime } from '../../../src/control/provider-registry';
import type { ProviderRuntime, TranslationInput } from '../../../src/providers/types';
import { aliases, translator } from '../../../src/providers/google';
import { toGeminiSchema } from '../../../src/providers/google/schema';

// Built as the gateway builds it from configuration.
const provider: ProviderRuntime = toRuntime({ name: 'gemini', type: 'google', base_url: 'https://generativelanguage.googleapis.com/v1beta', api_key: 'sk-native', models: ['gemini-*'], headers: {}, timeout_seconds: 0 });

function input(body: Record<string, unknown>, endpoint: Endpoint = 'chat.completions'): TranslationInput {
  return {
    endpoint,
    body: body as JsonObject,
    stream: body.stream === true,
    target: { provider: 'gemini', type: 'google', model: String(body.model ?? 'gemini-2.0-flash') },
    provider,
    apiKey: 'sk-native',
  };
}

const chat = (extra: Record<string, unknown>) => ({ model: 'gemini-2.0-flash', messages: [{ role: 'user', content: 'hi' }], ...extra });
const req = (body: Record<string, unknown>, endpoint?: Endpoint) => translator.request(input(body, endpoint));
const WEATHER = { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } } };
const TIME = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } } };

describe('registration', () => {
  // The static registry (src/providers/translators.ts) lists the folder; the e2e suite configures both `google` and `gemini`.
  test('the folder exports type google and alias gemini', () => {
    expect(translator.type).toBe('google');
    expect(aliases).toEqual(['gemini']);
  });
});

describe('request: path and headers', () => {
  test.each([
    ['non-stream chat', chat({}), 'chat.completions', '/v1beta/models/gemini-2.0-flash:generateContent'],
    ['streamed chat', chat({ stream: true }), 'chat.completions', '/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse'],
    ['tuned model keeps its resource name', chat({ model: 'tunedModels/my-tune' }), 'chat.completions', '/v1beta/tunedModels/my-tune:generateContent'],
    ['embeddings', { model: 'gemini-embedding-001', input: 'x' }, 'embeddings', '/v1beta/models/gemini-embedding-001:batchEmbedContents'],
    ['a client-chosen model is encoded into its path segment', chat({ model: 'gemini-x?alt=json#frag' }), 'chat.completions', '/v1beta/models/gemini-x%3Falt%3Djson%23frag:generateContent'],
  ] as const)('%s', (_name, body, endpoint, path) => {
    const out = req(body as Record<string, unknown>, endpoint);
    expect(out.path).toBe(path);
    expect(out.headers['x-goog-api-key']).toBe('sk-native');
    expect(out.headers.authorization).toBeUndefined();
  });
});

test.each(['gemini-x/../../files', 'models/../cachedContents', 'tunedModels//x', 'gemini-x/.'])('model %s cannot reach another path: 400 naming model', (model) => {
  const err = (() => {
    try {
      req(chat({ model }));
    } catch (e) {
      return e;
    }
  })();
  expect(err).toBeInstanceOf(GatewayError);
  expect(err).toMatchObject({ status: 400, param: 'model' });
});

describe('request: messages', () => {
  test.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    [
      'system and developer become systemInstruction',
      chat({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'developer', content: [{ type: 'text', text: 'No emoji.' }] }, { role: 'user', content: 'hi' }] }),
      { systemInstruction: { parts: [{ text: 'Be brief.' }, { text: 'No emoji.' }] }, contents: [{ role: 'user', parts: [{ text: 'hi' }] }] },
    ],
    [
      'multi-turn: assistant → model, consecutive same-role turns merged',
      chat({
        messages: [
          { role: 'user', content: 'a' },
          { role: 'user', content: 'b' },
          { role: 'assistant', content: 'c' },
          { role: 'assistant', content: [{ type: 'text', text: 'd' }] },
          { role: 'user', content: 'e' },
        ],
      }),
      {
        contents: [
          { role: 'user', parts: [{ text: 'a' }, { text: 'b' }] },
          { role: 'model', parts: [{ text: 'c' }, { text: 'd' }] },
          { role: 'user', parts: [{ text: 'e' }] },
        ],
      },
    ],
    [
      'images: data URL → inlineData, https URL → fileData with a guessed MIME type',
      chat({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is this?' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.webp?size=1', detail: 'high' } },
              { type: 'image_url', image_url: { url: 'https://example.com/photo' } },
            ],
          },
        ],
      }),
      {
        contents: [
          {
            role: 'user',
            parts: [
              { text: 'what is this?' },
              { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
              { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/cat.webp?size=1' } },
              { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/photo' } },
            ],
          },
        ],
      },
    ],
    [
      'assistant tool_calls and parallel tool results',
      chat({
        messages: [
          { role: 'user', content: 'weather and time?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
              { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
          { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '12:00' }] },
          { role: 'user', content: 'thanks' },
        ],
      }),
      {
        contents: [
          { role: 'user', parts: [{ text: 'weather and time?' }] },
          { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }, { functionCall: { name: 'get_time', args: {} } }] },
          {
            role: 'user',
            parts: [
              { functionResponse: { name: 'get_weather', response: { temp: 21 } } },
              { functionResponse: { name: 'get_time', response: { result: '12:00' } } },
              { text: 'thanks' },
            ],
          },
        ],
      },
    ],
    [
      'a thought signature carried in the tool-call id goes back on the functionCall part',
      chat({
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', tool_calls: [{ id: 'call_9__thought__c2lnbmF0dXJl', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'call_9__thought__c2lnbmF0dXJl', content: '[1,2]' },
        ],
      }),
      {
        contents: [
          { role: 'user', parts: [{ text: 'x' }] },
          { role: 'model', parts: [{ functionCall: { name: 'f', args: {} }, thoughtSignature: 'c2lnbmF0dXJl' }] },
          { role: 'user', parts: [{ functionResponse: { name: 'f', response: { result: [1, 2] } } }] },
        ],
      },
    ],
  ])('%s', (_name, body, expected) => {
    expect(req(body).body).toEqual(expected);
  });
});

describe('request: tools and tool_choice', () => {
  test('tools become functionDeclarations with cleaned parameters', () => {
    const out = req(chat({ tools: [WEATHER, { type: 'function', function: { name: 'noop', strict: true, parameters: { type: 'object', properties: {} } } }] })).body!;
    expect(out.tools).toEqual([
      {
        functionDeclarations: [
          { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
          { name: 'noop' },
        ],
      },
    ]);
    expect(out.toolConfig).toBeUndefined();
  });

  test.each([
    ['auto', 'auto', { mode: 'AUTO' }],
    ['none', 'none', { mode: 'NONE' }],
    ['required', 'required', { mode: 'ANY' }],
    ['named', { type: 'function', function: { name: 'get_time' } }, { mode: 'ANY', allowedFunctionNames: ['get_time'] }],
  ])('tool_choice %s', (_name, choice, config) => {
    expect(req(chat({ tools: [WEATHER, TIME], tool_choice: choice })).body!.toolConfig).toEqual({ functionCallingConfig: config });
  });
});

describe('request: generation parameters', () => {
  test.each<[string, Record<string, unknown>, Record<string, unknown> | undefined]>([
    ['no parameters, no generationConfig', {}, undefined],
    ['max_tokens, temperature, top_p', { max_tokens: 50, temperature: 0.2, top_p: 0.9 }, { maxOutputTokens: 50, temperature: 0.2, topP: 0.9 }],
    ['max_completion_tokens wins over max_tokens', { max_tokens: 50, max_completion_tokens: 70 }, { maxOutputTokens: 70 }],
    ['stop string', { stop: 'END' }, { stopSequences: ['END'] }],
    ['stop array', { stop: ['a', 'b'] }, { stopSequences: ['a', 'b'] }],
    ['n → candidateCount, seed, penalties', { n: 2, seed: 7, presence_penalty: 0.5, frequency_penalty: 0.1 }, { candidateCount: 2, seed: 7, presencePenalty: 0.5, frequencyPenalty: 0.1 }],
    ['n = 1 is the default', { n: 1 }, undefined],
    ['harmless unknowns are dropped', { user: 'u1', parallel_tool_calls: true, store: false, logit_bias: {} }, undefined],
    ['json_object', { response_format: { type: 'json_object' } }, { responseMimeType: 'application/json' }],
    [
      'json_schema → responseSchema without unsupported keys',
      {
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'city',
            strict: true,
            schema: {
              $schema: 'http://json-schema.org/draft-07/schema#',
              type: 'object',
              additionalProperties: false,
              properties: {
                name: { type: 'string', format: 'email' },
                country: { $ref: '#/$defs/country' },
                population: { type: ['integer', 'null'] },
                kind: { enum: ['city', 'town'] },
              },
              required: ['name', 'country', 'missing'],
              $defs: { country: { type: 'object', additionalProperties: false, properties: { code: { type: 'string' } } } },
            },
          },
        },
      },
      {
        responseMimeType: 'application/json',
        responseSchema: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            country: { type: 'object', properties: { code: { type: 'string' } } },
            population: { type: 'integer', nullable: true },
            kind: { type: 'string', format: 'enum', enum: ['city', 'town'] },
          },
          required: ['name', 'country'],
        },
      },
    ],
  ])('%s', (_name, extra, expected) => {
    expect(req(chat(extra)).body!.generationConfig).toEqual(expected);
  });

  test('schema cleaning: anyOf with a null branch becomes nullable', () => {
    expect(toGeminiSchema({ anyOf: [{ type: 'string' }, { type: 'null' }], description: 'd' })).toEqual({ type: 'string', description: 'd', nullable: true });
  });
});

describe('request: embeddings', () => {
  test.each<[string, Record<string, unknown>, unknown]>([
    ['one string', { model: 'gemini-embedding-001', input: 'hello' }, { requests: [{ model: 'models/gemini-embedding-001', content: { parts: [{ text: 'hello' }] } }] }],
    [
      'several strings and dimensions',
      { model: 'gemini-embedding-001', input: ['a', 'b'], dimensions: 8 },
      {
        requests: [
          { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'a' }] }, outputDimensionality: 8 },
          { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'b' }] }, outputDimensionality: 8 },
        ],
      },
    ],
  ])('%s', (_name, body, expected) => {
    expect(req(body, 'embeddings').body).toEqual(expected);
  });
});

describe('request: refusals', () => {
  test.each<[string, Record<string, unknown>, Endpoint, string, string | null]>([
    ['legacy completions endpoint', { model: 'gemini-2.0-flash', prompt: 'x' }, 'completions', 'unsupported_endpoint', null],
    ['responses endpoint', { model: 'gemini-2.0-flash', input: 'x' }, 'responses', 'unsupported_endpoint', null],
    ['token-id embeddings input', { model: 'gemini-embedding-001', input: [[1, 2, 3]] }, 'embeddings', 'unsupported_parameter', 'input'],
    ['non-function tools', chat({ tools: [{ type: 'web_search' }] }), 'chat.completions', 'unsupported_parameter', 'tools[0].type'],
    ['n = 0', chat({ n: 0 }), 'chat.completions', 'invalid_value', 'n'],
    [
      'a tool result for an unknown call',
      chat({ messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'nope', content: 'r' }] }),
      'chat.completions',
      'invalid_value',
      'messages[1].tool_call_id',
    ],
  ])('%s', (_name, body, endpoint, code, param) => {
    let err: unknown;
    try {
      req(body, endpoint);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).status).toBe(400);
    expect((err as GatewayError).code).toBe(code);
    expect((err as GatewayError).param).toBe(param);
  });
});

// ---------------------------------------------------------------------------------------------

const USAGE = { promptTokenCount: 9, candidatesTokenCount: 3, thoughtsTokenCount: 2, cachedContentTokenCount: 4, totalTokenCount: 14 };
const OPENAI_USAGE = { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14, prompt_tokens_details: { cached_tokens: 4 }, completion_tokens_details: { reasoning_tokens: 2 } };

function gemini(parts: object[], finishReason = 'STOP', extra: object = {}) {
  return { candidates: [{ content: { role: 'model', parts }, finishReason, index: 0 }], usageMetadata: USAGE, modelVersion: 'gemini-2.0-flash-001', responseId: 'resp-1', ...extra };
}

describe('response: generateContent → chat.completion', () => {
  test.each<[string, object, Record<string, unknown>]>([
    ['text', gemini([{ text: 'Hello' }, { text: ' world' }]), { content: 'Hello world', finish_reason: 'stop' }],
    ['thought summaries are not content', gemini([{ text: 'thinking...', thought: true }, { text: 'answer' }]), { content: 'answer', finish_reason: 'stop' }],
    ['MAX_TOKENS → length', gemini([{ text: 'cut' }], 'MAX_TOKENS'), { content: 'cut', finish_reason: 'length' }],
    ['SAFETY → content_filter', gemini([], 'SAFETY'), { content: '', finish_reason: 'content_filter' }],
    ['RECITATION → content_filter', gemini([{ text: 'x' }], 'RECITATION'), { content: 'x', finish_reason: 'content_filter' }],
    ['blocked prompt → content_filter', { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata: USAGE }, { content: '', finish_reason: 'content_filter' }],
  ])('%s', (_name, body, expected) => {
    const out = translator.response(body as JsonValue, 200, input(chat({}))) as any;
    expect(out.object).toBe('chat.completion');
    expect(out.choices[0].message.content).toBe(expected.content);
    expect(out.choices[0].finish_reason).toBe(expected.finish_reason);
    expect(out.usage).toEqual(OPENAI_USAGE);
  });

  test('id and model are the ones Gemini reports', () => {
    const out = translator.response(gemini([{ text: 'x' }]) as JsonValue, 200, input(chat({}))) as any;
    expect(out.id).toBe('resp-1');
    expect(out.model).toBe('gemini-2.0-flash-001');
    const bare = translator.response({ candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason: 'STOP' }] }, 200, input(chat({}))) as any;
    expect(bare.id).toMatch(/^chatcmpl-/);
    expect(bare.model).toBe('gemini-2.0-flash');
  });

  test('parallel function calls → tool_calls with generated ids and JSON arguments', () => {
    const body = gemini([
      { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'sig' },
      { functionCall: { name: 'get_time', args: {} } },
    ]);
    const out = translator.response(body as JsonValue, 200, input(chat({}))) as any;
    const msg = out.choices[0].message;
    expect(out.choices[0].finish_reason).toBe('tool_calls');
    expect(msg.content).toBeNull();
    expect(msg.tool_calls).toEqual([
      { id: expect.stringMatching(/^call_[0-9a-f]{24}__thought__sig$/), type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { id: expect.stringMatching(/^call_[0-9a-f]{24}$/), type: 'function', function: { name: 'get_time', arguments: '{}' } },
    ]);
    expect(msg.tool_calls[0].id).not.toBe(msg.tool_calls[1].id);
  });

  test('several candidates → several choices', () => {
    const body = { candidates: [0, 1].map((i) => ({ index: i, content: { role: 'model', parts: [{ text: `c${i}` }] }, finishReason: 'STOP' })) };
    const out = translator.response(body, 200, input(chat({ n: 2 }))) as any;
    expect(out.choices.map((c: any) => [c.index, c.message.content])).toEqual([
      [0, 'c0'],
      [1, 'c1'],
    ]);
  });
});

describe('response: embeddings', () => {
  const body = { embeddings: [{ values: [0.5, -1] }, { values: [0.25, 2] }] };
  test('float', () => {
    expect(translator.response(body, 200, input({ model: 'gemini-embedding-001', input: ['a', 'b'] }, 'embeddings'))).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [0.5, -1] },
        { object: 'embedding', index: 1, embedding: [0.25, 2] },
      ],
      model: 'gemini-embedding-001',
      usage: { prompt_tokens: 0, total_tokens: 0 },
    });
  });
  test('base64', () => {
    const out = translator.response(body, 200, input({ model: 'gemini-embedding-001', input: ['a', 'b'], encoding_format: 'base64' }, 'embeddings')) as any;
    const decoded = Array.from(new Float32Array(new Uint8Array(Buffer.from(out.data[0].embedding, 'base64')).buffer));
    expect(decoded).toEqual([0.5, -1]);
  });
});

describe('response: errors', () => {
  test.each<[string, number, unknown, string, string]>([
    ['429 RESOURCE_EXHAUSTED', 429, { error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' } }, 'rate_limit_error', 'rate_limit_exceeded'],
    ['400 INVALID_ARGUMENT', 400, { error: { code: 400, message: 'Invalid JSON payload', status: 'INVALID_ARGUMENT' } }, 'invalid_request_error', 'invalid_argument'],
    [
      '400 API_KEY_INVALID',
      400,
      { error: { code: 400, message: 'API key not valid. Please pass a valid API key.', status: 'INVALID_ARGUMENT', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }] } },
      'authentication_error',
      'invalid_api_key',
    ],
    ['401 UNAUTHENTICATED', 401, { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } }, 'authentication_error', 'invalid_api_key'],
    ['403 PERMISSION_DENIED', 403, { error: { code: 403, message: 'Method doesn\'t allow unregistered callers', status: 'PERMISSION_DENIED' } }, 'permission_error', 'permission_denied'],
    ['404 NOT_FOUND', 404, { error: { code: 404, message: 'models/x is not found', status: 'NOT_FOUND' } }, 'not_found_error', 'not_found'],
    ['500 INTERNAL', 500, { error: { code: 500, message: 'An internal error has occurred.', status: 'INTERNAL' } }, 'server_error', 'internal_error'],
    ['503 UNAVAILABLE', 503, { error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } }, 'server_error', 'service_unavailable'],
    ['array form', 429, [{ error: { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED' } }], 'rate_limit_error', 'rate_limit_exceeded'],
    ['unknown body, 502', 502, { oops: true }, 'server_error', 'internal_error'],
  ])('%s', (_name, status, body, type, code) => {
    const out = translator.response(body as JsonValue, status, input(chat({}))) as any;
    expect(out.error).toEqual({ message: expect.any(String), type, param: null, code });
    if ((body as any).error?.message) expect(out.error.message).toBe((body as any).error.message);
  });
});

describe('usage', () => {
  test('read from the translated body, with cached and reasoning tokens', () => {
    const out = translator.response(gemini([{ text: 'x' }]) as JsonValue, 200, input(chat({})))!;
    expect(translator.usage(out)).toEqual({ promptTokens: 9, completionTokens: 5, totalTokens: 14, cachedTokens: 4, reasoningTokens: 2 });
  });
  test('toolUsePromptTokenCount counts as prompt', () => {
    const out = translator.response(gemini([{ text: 'x' }], 'STOP', { usageMetadata: { promptTokenCount: 5, toolUsePromptTokenCount: 2, candidatesTokenCount: 1, totalTokenCount: 8 } }) as JsonValue, 200, input(chat({})))!;
    expect(translator.usage(out)).toEqual({ promptTokens: 7, completionTokens: 1, totalTokens: 8 });
  });
});

// ---------------------------------------------------------------------------------------------

/** Runs native SSE text (CRLF framed, as Gemini sends it) through the stream translator. */
function runStream(body: Record<string, unknown>, sse: string): (any | '[DONE]')[] {
  const st = translator.streamTranslator(input({ ...body, stream: true }))!;
  const parser = new SseParser();
  const events = [...parser.push(sse), ...parser.flush()];
  const out = [...events.flatMap((e) => st.translate(e)), ...st.finish()];
  return out.map((e) => (e.data === '[DONE]' ? '[DONE]' : JSON.parse(e.data)));
}

const sse = (...events: object[]) => events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`).join('');
const frag = (parts: object[], finishReason?: string, usage?: object) => ({
  candidates: [{ content: { role: 'model', parts }, ...(finishReason ? { finishReason } : {}), index: 0 }],
  ...(usage ? { usageMetadata: usage } : {}),
  modelVersion: 'gemini-2.0-flash-001',
  responseId: 'resp-s',
});
const deltas = (chunks: any[]) => chunks.filter((c) => c !== '[DONE]' && c.choices?.length).map((c) => [c.choices[0].delta, c.choices[0].finish_reason]);

describe('stream: streamGenerateContent → chunks', () => {
  test.each<[string, Record<string, unknown>, string, unknown[], boolean]>([
    [
      'text deltas, finish, usage chunk when include_usage',
      { stream_options: { include_usage: true } },
      sse(frag([{ text: 'Hel' }]), frag([{ text: 'lo' }]), frag([{ text: '!' }], 'STOP', USAGE)),
      [
        [{ role: 'assistant', content: '' }, null],
        [{ content: 'Hel' }, null],
        [{ content: 'lo' }, null],
        [{ content: '!' }, null],
        [{}, 'stop'],
      ],
      true,
    ],
    [
      'no usage chunk without include_usage',
      {},
      sse(frag([{ text: 'a' }], 'STOP', USAGE)),
      [
        [{ role: 'assistant', content: '' }, null],
        [{ content: 'a' }, null],
        [{}, 'stop'],
      ],
      false,
    ],
    [
      'MAX_TOKENS → length; thought parts skipped',
      {},
      sse(frag([{ text: 'hmm', thought: true }]), frag([{ text: 'a' }], 'MAX_TOKENS', USAGE)),
      [
        [{ role: 'assistant', content: '' }, null],
        [{ content: 'a' }, null],
        [{}, 'length'],
      ],
      false,
    ],
    [
      'SAFETY → content_filter',
      {},
      sse(frag([{ text: 'a' }]), frag([], 'SAFETY')),
      [
        [{ role: 'assistant', content: '' }, null],
        [{ content: 'a' }, null],
        [{}, 'content_filter'],
      ],
      false,
    ],
    [
      'a stream cut before finishReason still ends with a finish chunk',
      {},
      sse(frag([{ text: 'a' }])),
      [
        [{ role: 'assistant', content: '' }, null],
        [{ content: 'a' }, null],
        [{}, 'stop'],
      ],
      false,
    ],
  ])('%s', (_name, body, text, expected, usage) => {
    const out = runStream(body, text);
    expect(deltas(out)).toEqual(expected);
    expect(out.filter((c) => c === '[DONE]')).toHaveLength(1);
    expect(out[out.length - 1]).toBe('[DONE]');
    const chunks = out.filter((c) => c !== '[DONE]');
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(['resp-s']));
    expect(chunks.every((c) => c.model === 'gemini-2.0-flash-001' && c.object === 'chat.completion.chunk')).toBe(true);
    const usageChunk = out[out.length - 2];
    if (usage) expect(usageChunk).toMatchObject({ choices: [], usage: OPENAI_USAGE });
    else expect(out.some((c) => c !== '[DONE]' && c.choices.length === 0)).toBe(false);
  });

  test('parallel function calls: one complete tool-call delta each, ordinal indices', () => {
    const out = runStream(
      { stream_options: { include_usage: true } },
      sse(
        frag([{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }]),
        frag([{ functionCall: { name: 'get_time', args: { tz: 'CET' } } }], 'STOP', USAGE),
      ),
    );
    const d = deltas(out);
    expect(d[0]).toEqual([{ role: 'assistant', content: '' }, null]);
    expect(d[1][0].tool_calls).toEqual([{ index: 0, id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
    expect(d[2][0].tool_calls).toEqual([{ index: 1, id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_time', arguments: '{"tz":"CET"}' } }]);
    expect(d[3]).toEqual([{}, 'tool_calls']);
    expect(out[out.length - 2].usage).toEqual(OPENAI_USAGE);
  });

  test('several candidates keep their own indices and finish reasons', () => {
    const ev = (parts0: object[], parts1: object[], fr?: string) => ({
      candidates: [
        { index: 0, content: { role: 'model', parts: parts0 }, ...(fr ? { finishReason: fr } : {}) },
        { index: 1, content: { role: 'model', parts: parts1 }, ...(fr ? { finishReason: fr } : {}) },
      ],
    });
    const out = runStream({}, sse(ev([{ text: 'a' }], [{ text: 'b' }]), ev([], [], 'STOP'))).filter((c) => c !== '[DONE]');
    const text = (i: number) => out.filter((c) => c.choices[0].index === i).map((c) => c.choices[0].delta.content ?? '').join('');
    expect([text(0), text(1)]).toEqual(['a', 'b']);
    expect(out.filter((c) => c.choices[0].finish_reason === 'stop').map((c) => c.choices[0].index)).toEqual([0, 1]);
  });

  test('an error event mid-stream becomes an OpenAI error event, then [DONE] and nothing else', () => {
    const out = runStream(
      { stream_options: { include_usage: true } },
      sse(frag([{ text: 'a' }]), { error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } }, frag([{ text: 'late' }])),
    );
    expect(out.slice(-2)).toEqual([{ error: { message: 'The model is overloaded.', type: 'server_error', param: null, code: 'service_unavailable' } }, '[DONE]']);
    expect(JSON.stringify(out)).not.toContain('late');
  });

  test('LF framing and a missing final blank line are accepted too', () => {
    const out = runStream({}, `data: ${JSON.stringify(frag([{ text: 'x' }], 'STOP'))}`);
    expect(deltas(out).map((d) => d[1])).toEqual([null, null, 'stop']);
  });

  test('usage is read from the usage-only chunk', () => {
    const out = runStream({ stream_options: { include_usage: true } }, sse(frag([{ text: 'a' }], 'STOP', USAGE)));
    expect(translator.usage(out[out.length - 2])).toEqual({ promptTokens: 9, completionTokens: 5, totalTokens: 14, cachedTokens: 4, reasoningTokens: 2 });
  });

  test('embeddings have no stream translator', () => {
    expect(translator.streamTranslator(input({ model: 'gemini-embedding-001', input: 'x' }, 'embeddings'))).toBeUndefined();
  });
});
