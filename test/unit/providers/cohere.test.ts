import { SseEvent, SseParser } from '../../../src/domain/sse';
import { GatewayError } from '../../../src/domain/errors';
import type { Endpoint, JsonObject, JsonValue } from '../../../src/domain';
import { toRuntime, translatorFor } from '../../../src/control/provider-registry';
import type { ProviderRuntime, TranslationInput } from '../../../src/providers/types';
import { translator } from '../../../src/providers/cohere';

// Built as the gateway builds it from configuration.
const provider: ProviderRuntime = toRuntime({ name: 'cohere', type: 'cohere', base_url: 'https://api.cohere.com/v2', api_key: 'sk-native-test', models: ['command-*'], headers: {}, timeout_seconds: 0 });

function input(body: Record<string, unknown>, endpoint: Endpoint = 'chat.completions'): TranslationInput {
  return {
    endpoint,
    body: body as JsonObject,
    stream: body.stream === true,
    target: { provider: 'cohere', type: 'cohere', model: 'command-a-03-2025' },
    provider,
    apiKey: 'sk-native-test',
  };
}

const chat = (extra: Record<string, unknown> = {}, messages: unknown[] = [{ role: 'user', content: 'hi' }]) => ({ model: 'command-a-03-2025', messages, ...extra });
const weather = { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
const time = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };
const nativeTool = (t: typeof weather | typeof time) => ({ type: 'function', function: { ...t.function, parameters: t.function.parameters } });

test('the folder registers the cohere type', () => {
  expect(translatorFor('cohere')).toBe(translator);
});

describe('request translation', () => {
  test('path, auth and headers', () => {
    const up = translator.request(input(chat()));
    expect(up.path).toBe('/v2/chat');
    expect(up.headers.authorization).toBe('Bearer sk-native-test');
    expect(up.headers.accept).toBe('application/json');
    const streamed = translator.request(input(chat({ stream: true })));
    expect(streamed.headers.accept).toBe('text/event-stream');
    expect(streamed.body?.stream).toBe(true);
  });

  test.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['plain user message', chat(), { model: 'command-a-03-2025', messages: [{ role: 'user', content: 'hi' }] }],
    [
      'system and developer messages become system',
      chat({}, [
        { role: 'system', content: 'be brief' },
        { role: 'developer', content: [{ type: 'text', text: 'dev' }] },
        { role: 'user', content: 'hi' },
      ]),
      { messages: [{ role: 'system', content: 'be brief' }, { role: 'system', content: 'dev' }, { role: 'user', content: 'hi' }] },
    ],
    [
      'multi-turn keeps order and roles',
      chat({}, [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: 'b' },
        { role: 'user', content: 'c' },
      ]),
      { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }] },
    ],
    [
      'images: data URL and https URL',
      chat({}, [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'low' } },
          ],
        },
      ]),
      {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is this?' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'low' } },
            ],
          },
        ],
      },
    ],
    [
      'sampling and limits',
      chat({ max_tokens: 10, temperature: 0.2, top_p: 0.9, stop: 'END', seed: 7, user: 'u1', parallel_tool_calls: true, stream_options: { include_usage: true } }),
      { max_tokens: 10, temperature: 0.2, p: 0.9, stop_sequences: ['END'], seed: 7 },
    ],
    ['max_completion_tokens wins, stop arrays pass', chat({ max_tokens: 10, max_completion_tokens: 20, stop: ['a', 'b'] }), { max_tokens: 20, stop_sequences: ['a', 'b'] }],
    ['tools with auto choice: no tool_choice', chat({ tools: [weather], tool_choice: 'auto' }), { tools: [nativeTool(weather)], tool_choice: undefined }],
    ['tool_choice none', chat({ tools: [weather], tool_choice: 'none' }), { tools: [nativeTool(weather)], tool_choice: 'NONE' }],
    ['tool_choice required', chat({ tools: [weather, time], tool_choice: 'required' }), { tools: [nativeTool(weather), nativeTool(time)], tool_choice: 'REQUIRED' }],
    [
      'named tool_choice keeps only that tool and requires a call',
      chat({ tools: [weather, time], tool_choice: { type: 'function', function: { name: 'get_time' } } }),
      { tools: [nativeTool(time)], tool_choice: 'REQUIRED' },
    ],
    [
      'strict function tools turn on strict_tools',
      chat({ tools: [{ type: 'function', function: { ...weather.function, strict: true } }] }),
      { tools: [nativeTool(weather)], strict_tools: true },
    ],
    [
      'assistant tool calls and parallel tool results',
      chat({}, [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'c2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Berlin"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'c2', content: [{ type: 'text', text: 'rain' }] },
      ]),
      {
        messages: [
          { role: 'user', content: 'weather?' },
          {
            role: 'assistant',
            tool_plan: 'Checking.',
            tool_calls: [
              { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
              { id: 'c2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Berlin"}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
          { role: 'tool', tool_call_id: 'c2', content: 'rain' },
        ],
      },
    ],
    ['response_format text is dropped', chat({ response_format: { type: 'text' } }), { response_format: undefined }],
    ['response_format json_object', chat({ response_format: { type: 'json_object' } }), { response_format: { type: 'json_object' } }],
    [
      'response_format json_schema → json_object with the schema',
      chat({ response_format: { type: 'json_schema', json_schema: { name: 'x', strict: true, schema: { type: 'object', properties: { a: { type: 'string' } } } } } }),
      { response_format: { type: 'json_object', json_schema: { type: 'object', properties: { a: { type: 'string' } } } } },
    ],
    ['n = 1 is fine', chat({ n: 1 }), { n: undefined }],
  ])('%s', (_name, body, expected) => {
    const out = translator.request(input(body)).body as Record<string, unknown>;
    for (const [k, v] of Object.entries(expected)) expect(out[k]).toEqual(v);
    for (const k of ['top_p', 'stop', 'max_completion_tokens', 'user', 'parallel_tool_calls', 'stream_options', 'n']) expect(out).not.toHaveProperty(k);
  });

  test.each<[string, Record<string, unknown>, Endpoint, string, string | null]>([
    ['n > 1', chat({ n: 2 }), 'chat.completions', 'unsupported_parameter', 'n'],
    ['named tool that is not offered', chat({ tools: [weather], tool_choice: { type: 'function', function: { name: 'nope' } } }), 'chat.completions', 'invalid_value', 'tool_choice'],
    ['audio parts', chat({}, [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] }]), 'chat.completions', 'unsupported_parameter', 'messages[0].content'],
    ['legacy function role', chat({}, [{ role: 'function', name: 'f', content: 'x' }]), 'chat.completions', 'unsupported_parameter', 'messages[0].role'],
    ['completions endpoint', { model: 'command-a', prompt: 'x' }, 'completions', 'unsupported_endpoint', null],
    ['responses endpoint', { model: 'command-a', input: 'x' }, 'responses', 'unsupported_endpoint', null],
    ['token-array embeddings', { model: 'embed-v4.0', input: [[1, 2, 3]] }, 'embeddings', 'unsupported_parameter', 'input'],
  ])('refuses %s', (_name, body, endpoint, code, param) => {
    let err: unknown;
    try {
      translator.request(input(body, endpoint));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).status).toBe(400);
    expect((err as GatewayError).code).toBe(code);
    expect((err as GatewayError).param).toBe(param);
  });

  test.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['one string', { model: 'embed-v4.0', input: 'hello' }, { model: 'command-a-03-2025', texts: ['hello'], input_type: 'search_document', embedding_types: ['float'] }],
    [
      'several strings with dimensions',
      { model: 'embed-v4.0', input: ['a', 'b'], dimensions: 256, encoding_format: 'float', user: 'x' },
      { model: 'command-a-03-2025', texts: ['a', 'b'], input_type: 'search_document', embedding_types: ['float'], output_dimension: 256 },
    ],
  ])('embeddings: %s', (_name, body, expected) => {
    const up = translator.request(input(body, 'embeddings'));
    expect(up.path).toBe('/v2/embed');
    expect(up.headers.authorization).toBe('Bearer sk-native-test');
    expect(up.body).toEqual(expected);
  });
});

describe('response translation', () => {
  const usage = { billed_units: { input_tokens: 9, output_tokens: 5 }, tokens: { input_tokens: 14, output_tokens: 5 } };

  test.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    [
      'text answer',
      { id: 'r1', finish_reason: 'COMPLETE', message: { role: 'assistant', content: [{ type: 'text', text: 'hello' }, { type: 'text', text: ' there' }] }, usage },
      {
        id: 'r1',
        model: 'command-a-03-2025',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hello there', refusal: null }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: 14, completion_tokens: 5, total_tokens: 19 },
      },
    ],
    [
      'tool calls (tool plan dropped)',
      {
        id: 'r2',
        finish_reason: 'TOOL_CALL',
        message: {
          role: 'assistant',
          tool_plan: 'I will check.',
          tool_calls: [
            { id: 'get_weather_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'get_weather_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Berlin"}' } },
          ],
        },
        usage,
      },
      {
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: null,
              refusal: null,
              tool_calls: [
                { id: 'get_weather_0', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
                { id: 'get_weather_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Berlin"}' } },
              ],
            },
            logprobs: null,
            finish_reason: 'tool_calls',
          },
        ],
      },
    ],
    [
      'thinking content is not part of the answer',
      { id: 'r3', finish_reason: 'COMPLETE', message: { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm' }, { type: 'text', text: 'ok' }] } },
      { choices: [{ index: 0, message: { role: 'assistant', content: 'ok', refusal: null }, logprobs: null, finish_reason: 'stop' }] },
    ],
    [
      'usage falls back to billed_units, cached tokens pass',
      { id: 'r4', finish_reason: 'COMPLETE', message: { content: [{ type: 'text', text: 'x' }] }, usage: { billed_units: { input_tokens: 9, output_tokens: 5 }, cached_tokens: 3 } },
      { usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14, prompt_tokens_details: { cached_tokens: 3 } } },
    ],
  ])('%s', (_name, native, expected) => {
    const out = translator.response(native as JsonValue, 200, input(chat())) as Record<string, unknown>;
    expect(out).toMatchObject({ object: 'chat.completion', ...expected });
    expect(typeof out.created).toBe('number');
  });

  test.each([
    ['COMPLETE', 'stop'],
    ['STOP_SEQUENCE', 'stop'],
    ['MAX_TOKENS', 'length'],
    ['TOOL_CALL', 'tool_calls'],
    ['ERROR_TOXIC', 'content_filter'],
  ])('finish reason %s → %s', (native, expected) => {
    const out = translator.response({ id: 'x', finish_reason: native, message: { content: [{ type: 'text', text: 'x' }] } }, 200, input(chat())) as any;
    expect(out.choices[0].finish_reason).toBe(expected);
  });

  test.each([
    ['float', undefined, [[0.5, -1]]],
    ['base64 (little-endian float32)', 'base64', [Buffer.from(new Float32Array([0.5, -1]).buffer).toString('base64')]],
  ])('embeddings response: %s', (_name, encoding, expected) => {
    const native = { id: 'e1', texts: ['hi'], embeddings: { float: [[0.5, -1]] }, meta: { billed_units: { input_tokens: 4 } }, response_type: 'embeddings_by_type' };
    const req = { model: 'embed-v4.0', input: 'hi', ...(encoding ? { encoding_format: encoding } : {}) };
    const out = translator.response(native, 200, input(req, 'embeddings'));
    expect(out).toEqual({
      object: 'list',
      data: [{ object: 'embedding', index: 0, embedding: expected[0] }],
      model: 'command-a-03-2025',
      usage: { prompt_tokens: 4, total_tokens: 4 },
    });
    expect(translator.usage(out!)).toEqual({ promptTokens: 4, completionTokens: 0, totalTokens: 4 });
  });

  test('usage() reads the translated body, cached tokens included', () => {
    const out = translator.response({ id: 'x', finish_reason: 'COMPLETE', message: { content: [] }, usage: { tokens: { input_tokens: 10, output_tokens: 2 }, cached_tokens: 4 } }, 200, input(chat()));
    expect(translator.usage(out!)).toEqual({ promptTokens: 10, completionTokens: 2, totalTokens: 12, cachedTokens: 4 });
  });
});

describe('errors', () => {
  test.each<[string, number, JsonValue, number, string, string]>([
    ['400 bad request', 400, { id: 'e', message: 'invalid request: bad' }, 400, 'invalid_request_error', 'invalid_request_error'],
    ['401 invalid token', 401, { message: 'invalid api token' }, 401, 'authentication_error', 'invalid_api_key'],
    ['402 payment required', 402, { message: 'Please add a payment method' }, 402, 'insufficient_quota', 'insufficient_quota'],
    ['404 unknown model', 404, { id: 'e', message: "model 'nope' not found" }, 404, 'not_found_error', 'model_not_found'],
    ['429 rate limit', 429, { id: 'e', message: 'You are using a Trial key' }, 429, 'rate_limit_error', 'rate_limit_exceeded'],
    ['498 invalid token', 498, { message: 'invalid api token' }, 401, 'authentication_error', 'invalid_api_key'],
    ['499 cancelled', 499, { message: 'request cancelled' }, 408, 'invalid_request_error', 'request_cancelled'],
    ['500 internal', 500, { id: 'e', message: 'internal server error' }, 500, 'server_error', 'server_error'],
    ['503 unavailable', 503, { message: 'overloaded' }, 503, 'server_error', 'service_unavailable'],
  ])('%s', (_name, status, native, clientStatus, type, code) => {
    expect(translator.status?.(status) ?? status).toBe(clientStatus);
    const out = translator.response(native, status, input(chat())) as any;
    expect(out).toEqual({ error: { message: (native as any).message, type, param: null, code } });
  });

  test('an OpenAI-shaped error passes unchanged', () => {
    const body = { error: { message: 'x', type: 'server_error', param: null, code: null } };
    expect(translator.response(body, 503, input(chat()))).toBe(body);
  });
});

describe('stream translation', () => {
  /** Real framing: `event: <type>` plus `data: {"type": <type>, ...}`. */
  const sse = (...events: [string, object][]) => events.map(([type, payload]) => `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`).join('');
  const start = (id = 'msg-1'): [string, object] => ['message-start', { id, delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } } }];
  const text = (t: string, index = 0): [string, object] => ['content-delta', { index, delta: { message: { content: { text: t } } } }];
  const end = (finish: string, usage?: object): [string, object] => ['message-end', { delta: { finish_reason: finish, ...(usage ? { usage } : {}) } }];
  const toolStart = (index: number, id: string, name: string, args = ''): [string, object] => [
    'tool-call-start',
    { index, delta: { message: { tool_calls: { id, type: 'function', function: { name, arguments: args } } } } },
  ];
  const toolDelta = (index: number, args: string): [string, object] => ['tool-call-delta', { index, delta: { message: { tool_calls: { function: { arguments: args } } } } }];
  const usage = { billed_units: { input_tokens: 9, output_tokens: 5 }, tokens: { input_tokens: 14, output_tokens: 5 } };

  function run(body: Record<string, unknown>, wire: string, splitAt = 0): { events: SseEvent[]; chunks: any[] } {
    const t = translator.streamTranslator(input({ ...body, stream: true }))!;
    const parser = new SseParser();
    const pieces = splitAt ? [wire.slice(0, splitAt), wire.slice(splitAt)] : [wire];
    const events = pieces.flatMap((p) => parser.push(p)).flatMap((e) => t.translate(e));
    events.push(...t.finish());
    return { events, chunks: events.map((e) => (e.data === '[DONE]' ? '[DONE]' : JSON.parse(e.data))) };
  }
  const deltas = (chunks: any[]) => chunks.filter((c) => c !== '[DONE]' && c.choices?.length).map((c) => c.choices[0].delta);
  const finishes = (chunks: any[]) => chunks.filter((c) => c !== '[DONE]' && c.choices?.length).map((c) => c.choices[0].finish_reason).filter(Boolean);

  test.each<[string, Record<string, unknown>, string, (chunks: any[]) => void]>([
    [
      'text, with role first and [DONE] last',
      chat(),
      sse(start(), ['content-start', { index: 0, delta: { message: { content: { type: 'text', text: '' } } } }], text('Hello'), text(' world'), ['content-end', { index: 0 }], end('COMPLETE', usage)),
      (chunks) => {
        expect(deltas(chunks)).toEqual([{ role: 'assistant', content: '' }, { content: 'Hello' }, { content: ' world' }, {}]);
        expect(finishes(chunks)).toEqual(['stop']);
        expect(chunks[0].id).toBe('msg-1');
        expect(chunks[0].model).toBe('command-a-03-2025');
        expect(chunks.at(-1)).toBe('[DONE]');
        expect(chunks.filter((c) => c === '[DONE]')).toHaveLength(1);
        expect(chunks.some((c) => c !== '[DONE]' && c.usage)).toBe(false);
      },
    ],
    [
      'usage chunk only when include_usage was asked for',
      chat({ stream_options: { include_usage: true } }),
      sse(start(), text('x'), end('MAX_TOKENS', usage)),
      (chunks) => {
        expect(finishes(chunks)).toEqual(['length']);
        expect(chunks.at(-2)).toMatchObject({ choices: [], usage: { prompt_tokens: 14, completion_tokens: 5, total_tokens: 19 } });
        expect(chunks.at(-1)).toBe('[DONE]');
      },
    ],
    [
      'parallel tool calls: ordinals 0 and 1, arguments reassemble',
      chat({ tools: [weather, time] }),
      sse(
        start(),
        ['tool-plan-delta', { delta: { message: { tool_plan: 'I will' } } }],
        toolStart(0, 'get_weather_a', 'get_weather'),
        toolDelta(0, '{"city":'),
        toolDelta(0, '"Paris"}'),
        ['tool-call-end', { index: 0 }],
        toolStart(1, 'get_time_b', 'get_time', '{"tz"'),
        toolDelta(1, ':"CET"}'),
        ['tool-call-end', { index: 1 }],
        ['citation-start', { index: 0, delta: { message: { citations: {} } } }],
        ['citation-end', { index: 0 }],
        end('TOOL_CALL', usage),
      ),
      (chunks) => {
        const calls = deltas(chunks).flatMap((d) => d.tool_calls ?? []);
        expect(calls[0]).toEqual({ index: 0, id: 'get_weather_a', type: 'function', function: { name: 'get_weather', arguments: '' } });
        expect(calls.find((c: any) => c.index === 1 && c.id)).toEqual({ index: 1, id: 'get_time_b', type: 'function', function: { name: 'get_time', arguments: '' } });
        const args = (i: number) => calls.filter((c: any) => c.index === i).map((c: any) => c.function.arguments).join('');
        expect(JSON.parse(args(0))).toEqual({ city: 'Paris' });
        expect(JSON.parse(args(1))).toEqual({ tz: 'CET' });
        expect(calls.filter((c: any) => !c.id).every((c: any) => Object.keys(c).join() === 'index,function')).toBe(true);
        expect(finishes(chunks)).toEqual(['tool_calls']);
        expect(deltas(chunks).some((d) => d.content && d.content !== '')).toBe(false);
      },
    ],
    [
      'thinking content is skipped',
      chat(),
      sse(
        start(),
        ['content-start', { index: 0, delta: { message: { content: { type: 'thinking', thinking: '' } } } }],
        ['content-delta', { index: 0, delta: { message: { content: { thinking: 'hmm' } } } }],
        ['content-end', { index: 0 }],
        ['content-start', { index: 1, delta: { message: { content: { type: 'text', text: '' } } } }],
        text('answer', 1),
        end('COMPLETE'),
      ),
      (chunks) => expect(deltas(chunks)).toEqual([{ role: 'assistant', content: '' }, { content: 'answer' }, {}]),
    ],
    [
      'content_filter finish',
      chat(),
      sse(start(), text('x'), end('ERROR_TOXIC')),
      (chunks) => expect(finishes(chunks)).toEqual(['content_filter']),
    ],
    [
      'an error in message-end becomes an OpenAI error event',
      chat(),
      sse(start(), text('x'), ['message-end', { delta: { finish_reason: 'ERROR', error: 'generation failed' } }]),
      (chunks) => {
        expect(chunks.at(-2)).toEqual({ error: { message: 'generation failed', type: 'server_error', param: null, code: 'server_error' } });
        expect(chunks.at(-1)).toBe('[DONE]');
        expect(finishes(chunks)).toEqual([]);
      },
    ],
    [
      'a stream cut before message-end ends with an error and [DONE]',
      chat(),
      sse(start(), text('partial')),
      (chunks) => {
        expect(chunks.at(-2).error.type).toBe('server_error');
        expect(chunks.at(-1)).toBe('[DONE]');
      },
    ],
  ])('%s', (_name, body, wire, check) => {
    check(run(body, wire).chunks);
    // The same bytes split mid-event translate the same way.
    const half = run(body, wire, Math.floor(wire.length / 2)).chunks;
    expect(half.length).toBe(run(body, wire).chunks.length);
  });

  test('CRLF framing is accepted too', () => {
    const wire = sse(start(), text('hi'), end('COMPLETE')).replace(/\n/g, '\r\n');
    expect(deltas(run(chat(), wire).chunks)).toEqual([{ role: 'assistant', content: '' }, { content: 'hi' }, {}]);
  });

  test('usage() reads the emitted usage chunk', () => {
    const { events } = run(chat({ stream_options: { include_usage: true } }), sse(start(), text('x'), end('COMPLETE', usage)));
    const withUsage = events.filter((e) => e.data.includes('"usage"'));
    expect(withUsage).toHaveLength(1);
    expect(translator.usage(withUsage[0].json!)).toEqual({ promptTokens: 14, completionTokens: 5, totalTokens: 19 });
  });

  test('events after the end are ignored', () => {
    const t = translator.streamTranslator(input(chat({ stream: true })))!;
    const evs = new SseParser().push(sse(start(), end('COMPLETE'), text('late')));
    const out = evs.flatMap((e) => t.translate(e));
    expect(out.filter((e) => e.data === '[DONE]')).toHaveLength(1);
    expect(out.some((e) => e.data.includes('late'))).toBe(false);
    expect(t.finish()).toEqual([]);
  });

  test('no stream translator for embeddings', () => {
    expect(translator.streamTranslator(input({ model: 'embed-v4.0', input: 'x' }, 'embeddings'))).toBeUndefined();
  });
});
