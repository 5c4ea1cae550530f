import { SseParser, type SseEvent } from '../../../src/domain/sse';
import { GatewayError } from '../../../src/domain/errors';
import type { Endpoint, JsonObject } from '../../../src/domain';
import { translator } from '../../../src/providers/anthropic';
import { toRuntime, translatorFor } from '../../../src/control/provider-registry';
import type { ProviderRuntime, TranslationInput } from '../../../src/providers/types';
import { startFakeAnthropic, type FakeAnthropic } from '../../helpers/fake-anthropic';

// Built as the gateway builds it from configuration.
const provider: ProviderRuntime = toRuntime({ name: 'anthropic', type: 'anthropic', base_url: 'https://api.anthropic.com/v1', api_key: 'sk-ant-test', models: ['claude-*'], headers: {}, timeout_seconds: 0 });

function input(body: Record<string, unknown>, opts: { endpoint?: Endpoint; provider?: Partial<ProviderRuntime> } = {}): TranslationInput {
  return {
    endpoint: opts.endpoint ?? 'chat.completions',
    body: { model: 'claude-client-name', ...body } as JsonObject,
    stream: body.stream === true,
    target: { provider: 'anthropic', type: 'anthropic', model: 'claude-sonnet-4-5' },
    provider: { ...provider, ...opts.provider },
    apiKey: 'sk-ant-test',
  };
}

const user = (content: unknown) => ({ role: 'user', content });
const WEATHER = { type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
const TIME = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
const NATIVE_WEATHER = { name: 'get_weather', description: 'Weather in a city', input_schema: WEATHER.function.parameters };
const NATIVE_TIME = { name: 'get_time', input_schema: TIME.function.parameters };
const SCHEMA = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };

test('is registered by folder as type `anthropic`', () => {
  expect(translatorFor('anthropic')).toBe(translator);
});

describe('request translation', () => {
  test('path, auth and version headers', () => {
    const req = translator.request(input({ messages: [user('hi')] }, { provider: { basePath: '/anthropic/v1', headers: { 'anthropic-beta': 'x' } } }));
    expect(req.path).toBe('/anthropic/v1/messages');
    expect(req.headers).toEqual({ 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'x', 'content-type': 'application/json' });
    expect(req.headers.authorization).toBeUndefined();
  });

  test.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    [
      'plain user message, default max_tokens, target model',
      { messages: [user('hi')] },
      { model: 'claude-sonnet-4-5', max_tokens: 4096, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] },
    ],
    [
      'system and developer messages go to top-level system',
      { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'developer', content: [{ type: 'text', text: 'Use French.' }] }, user('hi')] },
      { system: 'Be brief.\n\nUse French.', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] },
    ],
    ['max_completion_tokens wins over max_tokens', { messages: [user('hi')], max_tokens: 10, max_completion_tokens: 20 }, { max_tokens: 20 }],
    ['max_tokens', { messages: [user('hi')], max_tokens: 10 }, { max_tokens: 10 }],
    [
      'sampling, stop string, user, stream; seed dropped',
      { messages: [user('hi')], temperature: 0.2, top_p: 0.9, stop: 'END', user: 'u-1', seed: 7, stream: true, stream_options: { include_usage: true } },
      { temperature: 0.2, top_p: 0.9, stop_sequences: ['END'], metadata: { user_id: 'u-1' }, stream: true, seed: undefined, stream_options: undefined },
    ],
    ['stop array', { messages: [user('hi')], stop: ['a', 'b'] }, { stop_sequences: ['a', 'b'] }],
    [
      'consecutive same-role turns are merged; empty assistant text is dropped',
      { messages: [user('a'), user([{ type: 'text', text: 'b' }]), { role: 'assistant', content: '' }, { role: 'assistant', content: 'c' }, user('d')] },
      {
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
          { role: 'assistant', content: [{ type: 'text', text: 'c' }] },
          { role: 'user', content: [{ type: 'text', text: 'd' }] },
        ],
      },
    ],
    [
      'images: data URL → base64 source, https URL → url source',
      {
        messages: [
          user([
            { type: 'text', text: 'what is this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'high' } },
          ]),
        ],
      },
      {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is this?' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
              { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
            ],
          },
        ],
      },
    ],
    ['tools, no tool_choice', { messages: [user('hi')], tools: [WEATHER] }, { tools: [NATIVE_WEATHER], tool_choice: undefined }],
    ['tool_choice auto', { messages: [user('hi')], tools: [WEATHER], tool_choice: 'auto' }, { tool_choice: { type: 'auto' } }],
    ['tool_choice none', { messages: [user('hi')], tools: [WEATHER], tool_choice: 'none' }, { tool_choice: { type: 'none' } }],
    ['tool_choice required', { messages: [user('hi')], tools: [WEATHER], tool_choice: 'required' }, { tool_choice: { type: 'any' } }],
    [
      'tool_choice named',
      { messages: [user('hi')], tools: [WEATHER, TIME], tool_choice: { type: 'function', function: { name: 'get_time' } } },
      { tools: [NATIVE_WEATHER, NATIVE_TIME], tool_choice: { type: 'tool', name: 'get_time' } },
    ],
    [
      'parallel_tool_calls false',
      { messages: [user('hi')], tools: [WEATHER], parallel_tool_calls: false },
      { tool_choice: { type: 'auto', disable_parallel_tool_use: true } },
    ],
    [
      'parallel_tool_calls false with required',
      { messages: [user('hi')], tools: [WEATHER], tool_choice: 'required', parallel_tool_calls: false },
      { tool_choice: { type: 'any', disable_parallel_tool_use: true } },
    ],
    ['tool_choice without tools is dropped', { messages: [user('hi')], tool_choice: 'auto' }, { tools: undefined, tool_choice: undefined }],
    [
      'assistant tool calls and parallel tool results in one user message, text after results',
      {
        messages: [
          user('weather?'),
          {
            role: 'assistant',
            content: 'Checking.',
            tool_calls: [
              { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
              { id: 'toolu_2', type: 'function', function: { name: 'get_time', arguments: '' } },
            ],
          },
          { role: 'tool', tool_call_id: 'toolu_1', content: '18C' },
          { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: '10:00' }], is_error: true },
          user('thanks'),
        ],
      },
      {
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'weather?' }] },
          {
            role: 'assistant',
            content: [
              { type: 'text', text: 'Checking.' },
              { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
              { type: 'tool_use', id: 'toolu_2', name: 'get_time', input: {} },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'toolu_1', content: '18C' },
              { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: '10:00' }], is_error: true },
              { type: 'text', text: 'thanks' },
            ],
          },
        ],
      },
    ],
    [
      'response_format json_object adds a system instruction',
      { messages: [{ role: 'system', content: 'S' }, user('hi')], response_format: { type: 'json_object' } },
      { system: expect.stringMatching(/^S\n\n.*JSON object/s) },
    ],
    [
      'response_format json_schema forces a synthetic tool',
      { messages: [user('hi')], response_format: { type: 'json_schema', json_schema: { name: 'answer_schema', schema: SCHEMA, strict: true } } },
      { tools: [{ name: 'answer_schema', description: expect.any(String), input_schema: SCHEMA }], tool_choice: { type: 'tool', name: 'answer_schema' } },
    ],
    [
      'json_schema with user tools keeps the choice and adds a hint',
      { messages: [user('hi')], tools: [WEATHER], response_format: { type: 'json_schema', json_schema: { name: 'answer_schema', schema: SCHEMA } } },
      { tools: [NATIVE_WEATHER, expect.objectContaining({ name: 'answer_schema' })], tool_choice: undefined, system: expect.stringContaining('answer_schema') },
    ],
    [
      'json_schema with tool_choice none forces the synthetic tool',
      { messages: [user('hi')], tools: [WEATHER], tool_choice: 'none', response_format: { type: 'json_schema', json_schema: { name: 'answer_schema', schema: SCHEMA } } },
      { tool_choice: { type: 'tool', name: 'answer_schema' } },
    ],
    [
      'PDF file part → document block',
      { messages: [user([{ type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } }])] },
      { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' }, title: 'a.pdf' }] }] },
    ],
  ])('%s', (_name, body, expected) => {
    const req = translator.request(input(body));
    expect(req.body).toMatchObject(Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined)));
    for (const [k, v] of Object.entries(expected)) if (v === undefined) expect(req.body).not.toHaveProperty(k);
  });

  test.each<[string, Record<string, unknown>, Endpoint, number, string, string | null]>([
    ['embeddings endpoint', { input: 'x' }, 'embeddings', 400, 'unsupported_endpoint', null],
    ['responses endpoint', { input: 'x' }, 'responses', 400, 'unsupported_endpoint', null],
    ['n > 1', { messages: [user('hi')], n: 2 }, 'chat.completions', 400, 'unsupported_parameter', 'n'],
    ['logprobs', { messages: [user('hi')], logprobs: true }, 'chat.completions', 400, 'unsupported_parameter', 'logprobs'],
    ['messages missing', {}, 'chat.completions', 400, 'missing_required_parameter', 'messages'],
    ['audio part', { messages: [user([{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }])] }, 'chat.completions', 400, 'unsupported_parameter', 'messages[0].content[0]'],
    ['non-base64 data URL', { messages: [user([{ type: 'image_url', image_url: { url: 'data:image/png,abc' } }])] }, 'chat.completions', 400, 'invalid_value', 'messages[0].content[0]'],
    [
      'tool call arguments that are not JSON',
      { messages: [user('x'), { role: 'assistant', tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] },
      'chat.completions',
      400,
      'invalid_value',
      'messages[1].tool_calls[0].function.arguments',
    ],
    ['legacy function role', { messages: [{ role: 'function', name: 'f', content: 'x' }] }, 'chat.completions', 400, 'unsupported_parameter', 'messages[0].role'],
    ['non-function tools', { messages: [user('x')], tools: [{ type: 'web_search' }] }, 'chat.completions', 400, 'unsupported_parameter', 'tools[0]'],
  ])('refuses %s', (_name, body, endpoint, status, code, param) => {
    let err: unknown;
    try {
      translator.request(input(body, { endpoint }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).toBody().error).toMatchObject({ code, param, type: 'invalid_request_error' });
    expect((err as GatewayError).status).toBe(status);
  });
});

const USAGE = { input_tokens: 10, cache_creation_input_tokens: 2, cache_read_input_tokens: 4, output_tokens: 5 };
const OPENAI_USAGE = { prompt_tokens: 16, completion_tokens: 5, total_tokens: 21, prompt_tokens_details: { cached_tokens: 4 } };
const message = (content: unknown[], stop_reason: string, extra: object = {}) => ({
  id: 'msg_01',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5-20250929',
  content,
  stop_reason,
  stop_sequence: null,
  usage: USAGE,
  ...extra,
});
const JSON_SCHEMA_BODY = { messages: [user('hi')], response_format: { type: 'json_schema', json_schema: { name: 'answer_schema', schema: SCHEMA } } };

describe('response translation', () => {
  test.each<[string, Record<string, unknown>, unknown, Record<string, unknown>, string]>([
    ['text, end_turn', { messages: [user('hi')] }, message([{ type: 'text', text: 'Hello' }, { type: 'text', text: ' there' }], 'end_turn'), { role: 'assistant', content: 'Hello there' }, 'stop'],
    ['stop_sequence', { messages: [user('hi')] }, message([{ type: 'text', text: 'a' }], 'stop_sequence', { stop_sequence: 'END' }), { content: 'a' }, 'stop'],
    ['max_tokens → length', { messages: [user('hi')] }, message([{ type: 'text', text: 'a' }], 'max_tokens'), { content: 'a' }, 'length'],
    ['refusal → content_filter', { messages: [user('hi')] }, message([], 'refusal'), { content: '' }, 'content_filter'],
    ['thinking blocks are skipped', { messages: [user('hi')] }, message([{ type: 'thinking', thinking: 'hmm', signature: 's' }, { type: 'text', text: 'ok' }], 'end_turn'), { content: 'ok' }, 'stop'],
    [
      'parallel tool_use → tool_calls',
      { messages: [user('hi')], tools: [WEATHER, TIME] },
      message(
        [
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_b', name: 'get_time', input: {} },
        ],
        'tool_use',
      ),
      {
        content: 'Let me check.',
        tool_calls: [
          { id: 'toolu_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'toolu_b', type: 'function', function: { name: 'get_time', arguments: '{}' } },
        ],
      },
      'tool_calls',
    ],
    ['tool_use only → null content', { messages: [user('hi')], tools: [WEATHER] }, message([{ type: 'tool_use', id: 't', name: 'get_weather', input: {} }], 'tool_use'), { content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] }, 'tool_calls'],
    ['json_schema synthetic tool → JSON content', JSON_SCHEMA_BODY, message([{ type: 'tool_use', id: 't', name: 'answer_schema', input: { answer: 'yes' } }], 'tool_use'), { content: '{"answer":"yes"}' }, 'stop'],
  ])('%s', (_name, reqBody, native, expectedMessage, finish) => {
    const out = translator.response(native as JsonObject, 200, input(reqBody)) as any;
    expect(out).toMatchObject({ id: 'msg_01', object: 'chat.completion', model: 'claude-sonnet-4-5-20250929', usage: OPENAI_USAGE });
    expect(out.choices).toHaveLength(1);
    expect(out.choices[0].message).toMatchObject(expectedMessage);
    if (!('tool_calls' in expectedMessage)) expect(out.choices[0].message.tool_calls).toBeUndefined();
    expect(out.choices[0].finish_reason).toBe(finish);
    expect(translator.usage(out)).toEqual({ promptTokens: 16, completionTokens: 5, totalTokens: 21, cachedTokens: 4 });
  });

  test('falls back to the target model and a generated id', () => {
    const out = translator.response({ type: 'message', content: [{ type: 'text', text: 'x' }], stop_reason: 'end_turn', usage: { input_tokens: 3, output_tokens: 1 } }, 200, input({ messages: [] })) as any;
    expect(out.model).toBe('claude-sonnet-4-5');
    expect(out.id).toMatch(/^chatcmpl-/);
    expect(out.usage).toEqual({ prompt_tokens: 3, completion_tokens: 1, total_tokens: 4, prompt_tokens_details: { cached_tokens: 0 } });
  });

  const nativeError = (type: string, message: string) => ({ type: 'error', error: { type, message }, request_id: 'req_1' });
  test.each<[string, number, unknown, number, Record<string, unknown>]>([
    ['400 invalid_request_error', 400, nativeError('invalid_request_error', 'max_tokens: Field required'), 400, { type: 'invalid_request_error', code: 'invalid_request_error', message: 'max_tokens: Field required' }],
    ['401 authentication_error', 401, nativeError('authentication_error', 'invalid x-api-key'), 401, { type: 'authentication_error', code: 'invalid_api_key' }],
    ['403 permission_error', 403, nativeError('permission_error', 'no'), 403, { type: 'permission_error', code: 'permission_denied' }],
    ['404 not_found_error', 404, nativeError('not_found_error', 'model: x'), 404, { type: 'not_found_error', code: 'not_found' }],
    ['413 request_too_large', 413, nativeError('request_too_large', 'too big'), 413, { type: 'invalid_request_error', code: 'request_too_large' }],
    ['429 rate_limit_error', 429, nativeError('rate_limit_error', 'slow down'), 429, { type: 'rate_limit_error', code: 'rate_limit_exceeded', message: 'slow down' }],
    ['500 api_error', 500, nativeError('api_error', 'boom'), 500, { type: 'server_error', code: 'server_error' }],
    ['529 overloaded_error → 503', 529, nativeError('overloaded_error', 'Overloaded'), 503, { type: 'server_error', code: 'overloaded' }],
    ['unknown body, 502', 502, { whatever: true }, 502, { type: 'server_error', code: 'server_error', message: 'The provider answered with HTTP 502.' }],
  ])('error %s', (_name, status, native, clientStatus, expected) => {
    const out = translator.response(native as JsonObject, status, input({ messages: [] })) as any;
    expect(out.error).toMatchObject({ param: null, ...expected });
    expect(Object.keys(out.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(translator.status!(status)).toBe(clientStatus);
  });

  test('an error already in OpenAI shape is left alone', () => {
    expect(translator.response({ error: { message: 'x', type: 'invalid_request_error', param: null, code: 'y' } }, 400, input({ messages: [] }))).toBeUndefined();
  });
});

/** Real Anthropic SSE framing: `event:` and `data:` lines, LF, blank line between events. */
const sse = (type: string, payload: object = {}) => `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
const start = (model = 'claude-sonnet-4-5-20250929') =>
  sse('message_start', { message: { id: 'msg_s1', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, cache_creation_input_tokens: 2, cache_read_input_tokens: 4, output_tokens: 1 } } });
const textBlock = (index: number, ...pieces: string[]) =>
  sse('content_block_start', { index, content_block: { type: 'text', text: '' } }) +
  pieces.map((text) => sse('content_block_delta', { index, delta: { type: 'text_delta', text } })).join('') +
  sse('content_block_stop', { index });
const toolBlock = (index: number, id: string, name: string, ...parts: string[]) =>
  sse('content_block_start', { index, content_block: { type: 'tool_use', id, name, input: {} } }) +
  ['', ...parts].map((partial_json) => sse('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json } })).join('') +
  sse('content_block_stop', { index });
const end = (stop_reason: string, output_tokens = 5) => sse('message_delta', { delta: { stop_reason, stop_sequence: null }, usage: { output_tokens } }) + sse('message_stop');

/** Feeds raw SSE text through the gateway's parser (in awkward network-sized pieces) and the translator. */
function runStream(reqBody: Record<string, unknown>, raw: string, pieceSize = 37): { events: SseEvent[]; chunks: any[] } {
  const t = translator.streamTranslator(input({ stream: true, ...reqBody }))!;
  const parser = new SseParser();
  const events: SseEvent[] = [];
  for (let i = 0; i < raw.length; i += pieceSize) for (const ev of parser.push(raw.slice(i, i + pieceSize))) events.push(...t.translate(ev));
  for (const ev of parser.flush()) events.push(...t.translate(ev));
  events.push(...t.finish());
  return { events, chunks: events.filter((e) => e.data !== '[DONE]').map((e) => JSON.parse(e.data)) };
}

const deltas = (chunks: any[]) => chunks.filter((c) => c.choices?.length).map((c) => c.choices[0].delta);
const finishOf = (chunks: any[]) => chunks.filter((c) => c.choices?.[0]?.finish_reason).map((c) => c.choices[0].finish_reason);

describe('stream translation', () => {
  test.each<[string, Record<string, unknown>, string, (chunks: any[]) => void]>([
    [
      'text assembles; first chunk has the role; ping ignored',
      { messages: [user('hi')] },
      start() + sse('ping') + textBlock(0, 'Hello', ' wor', 'ld') + end('end_turn'),
      (chunks) => {
        expect(deltas(chunks)[0]).toEqual({ role: 'assistant', content: '' });
        expect(deltas(chunks).map((d) => d.content ?? '').join('')).toBe('Hello world');
        expect(finishOf(chunks)).toEqual(['stop']);
        expect(chunks.every((c) => c.id === 'msg_s1' && c.model === 'claude-sonnet-4-5-20250929' && c.object === 'chat.completion.chunk')).toBe(true);
        expect(chunks.some((c) => c.usage)).toBe(false);
      },
    ],
    [
      'parallel tool calls after a text block are renumbered 0 and 1',
      { messages: [user('hi')], tools: [WEATHER, TIME] },
      start() + textBlock(0, 'Let me check.') + toolBlock(1, 'toolu_a', 'get_weather', '{"city":', ' "Paris"}') + toolBlock(2, 'toolu_b', 'get_time', '{"city": "London"', '}') + end('tool_use'),
      (chunks) => {
        const calls = deltas(chunks).flatMap((d) => d.tool_calls ?? []);
        expect(calls[0]).toEqual({ index: 0, id: 'toolu_a', type: 'function', function: { name: 'get_weather', arguments: '' } });
        expect(calls.find((c) => c.id === 'toolu_b')).toEqual({ index: 1, id: 'toolu_b', type: 'function', function: { name: 'get_time', arguments: '' } });
        expect(calls.filter((c) => !c.id).every((c) => Object.keys(c).join() === 'index,function' && c.function.arguments)).toBe(true);
        const args = [0, 1].map((i) => calls.filter((c) => c.index === i).map((c) => c.function.arguments).join(''));
        expect(args.map((a) => JSON.parse(a))).toEqual([{ city: 'Paris' }, { city: 'London' }]);
        expect(deltas(chunks).map((d) => d.content ?? '').join('')).toBe('Let me check.');
        expect(finishOf(chunks)).toEqual(['tool_calls']);
      },
    ],
    [
      'json_schema synthetic tool streams as content with finish stop',
      { ...JSON_SCHEMA_BODY },
      start() + toolBlock(0, 'toolu_j', 'answer_schema', '{"ans', 'wer": "yes"}') + end('tool_use'),
      (chunks) => {
        expect(deltas(chunks).some((d) => d.tool_calls)).toBe(false);
        expect(JSON.parse(deltas(chunks).map((d) => d.content ?? '').join(''))).toEqual({ answer: 'yes' });
        expect(finishOf(chunks)).toEqual(['stop']);
      },
    ],
    [
      'include_usage: usage-only chunk last, with cached tokens',
      { messages: [user('hi')], stream_options: { include_usage: true } },
      start() + textBlock(0, 'x') + end('max_tokens', 7),
      (chunks) => {
        expect(finishOf(chunks)).toEqual(['length']);
        const last = chunks[chunks.length - 1];
        expect(last.choices).toEqual([]);
        expect(last.usage).toEqual({ prompt_tokens: 16, completion_tokens: 7, total_tokens: 23, prompt_tokens_details: { cached_tokens: 4 } });
        expect(translator.usage(last)).toEqual({ promptTokens: 16, completionTokens: 7, totalTokens: 23, cachedTokens: 4 });
      },
    ],
    [
      'refusal → content_filter',
      { messages: [user('hi')] },
      start() + end('refusal'),
      (chunks) => expect(finishOf(chunks)).toEqual(['content_filter']),
    ],
    [
      'error event mid-stream → OpenAI error event',
      { messages: [user('hi')] },
      start() + textBlock(0, 'partial') + sse('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }),
      (chunks) => {
        expect(chunks[chunks.length - 1]).toEqual({ error: { message: 'Overloaded', type: 'server_error', param: null, code: 'overloaded' } });
        expect(finishOf(chunks)).toEqual([]);
      },
    ],
    [
      'stream cut before message_delta → error event',
      { messages: [user('hi')] },
      start() + textBlock(0, 'partial'),
      (chunks) => expect(chunks[chunks.length - 1].error).toMatchObject({ type: 'server_error', code: 'server_error' }),
    ],
    [
      'stream cut after message_delta → still finishes cleanly',
      { messages: [user('hi')] },
      start() + textBlock(0, 'x') + sse('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 1 } }),
      (chunks) => expect(finishOf(chunks)).toEqual(['stop']),
    ],
  ])('%s', (_name, reqBody, raw, check) => {
    for (const pieceSize of [7, 37, raw.length]) {
      const { events, chunks } = runStream(reqBody, raw, pieceSize);
      expect(events.filter((e) => e.data === '[DONE]')).toHaveLength(1);
      expect(events[events.length - 1].data).toBe('[DONE]');
      expect(events.every((e) => e.event === undefined && e.changed)).toBe(true);
      check(chunks);
    }
  });

  test('CRLF framing is accepted as well', () => {
    const raw = (start() + textBlock(0, 'ok') + end('end_turn')).replace(/\n/g, '\r\n');
    expect(deltas(runStream({ messages: [user('hi')] }, raw).chunks).map((d) => d.content ?? '').join('')).toBe('ok');
  });

  test('events after the end are ignored', () => {
    const { events } = runStream({ messages: [user('hi')] }, start() + end('end_turn') + textBlock(0, 'late'));
    expect(events.filter((e) => e.data.includes('late'))).toHaveLength(0);
  });

  test('no stream translator for other endpoints', () => {
    expect(translator.streamTranslator(input({}, { endpoint: 'embeddings' }))).toBeUndefined();
  });
});

describe('fake upstream speaks the native error shapes the translator maps', () => {
  let fake: FakeAnthropic;
  beforeAll(async () => {
    fake = await startFakeAnthropic({ apiKey: 'sk-ant-test' });
  });
  afterAll(() => fake.close());

  const post = (headers: Record<string, string>, body: unknown, path = '/v1/messages') =>
    fetch(`http://127.0.0.1:${fake.port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const good = { 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01' };
  const valid = () => translator.request(input({ messages: [user('hi')] })).body as Record<string, unknown>;

  test.each<[string, Record<string, string>, unknown, number, string, string]>([
    ['missing x-api-key', { 'anthropic-version': '2023-06-01' }, { ...valid() }, 401, 'authentication_error', 'invalid_api_key'],
    ['wrong x-api-key', { ...good, 'x-api-key': 'nope' }, { ...valid() }, 401, 'authentication_error', 'invalid_api_key'],
    ['missing anthropic-version', { 'x-api-key': 'sk-ant-test' }, { ...valid() }, 400, 'invalid_request_error', 'invalid_request_error'],
    ['missing max_tokens', good, { model: 'claude-x', messages: [{ role: 'user', content: 'hi' }] }, 400, 'invalid_request_error', 'invalid_request_error'],
    ['broken alternation', good, { model: 'claude-x', max_tokens: 5, messages: [user('a'), user('b')] }, 400, 'invalid_request_error', 'invalid_request_error'],
    ['rate limited', good, { ...valid(), model: 'error-429' }, 429, 'rate_limit_error', 'rate_limit_exceeded'],
    ['server error', good, { ...valid(), model: 'error-500' }, 500, 'api_error', 'server_error'],
    ['overloaded', good, { ...valid(), model: 'error-529' }, 529, 'overloaded_error', 'overloaded'],
  ])('%s', async (_name, headers, body, status, nativeType, code) => {
    const res = await post(headers, body);
    expect(res.status).toBe(status);
    const native = (await res.json()) as any;
    expect(native).toMatchObject({ type: 'error', error: { type: nativeType, message: expect.any(String) } });
    expect((translator.response(native, status, input({ messages: [] })) as any).error.code).toBe(code);
  });

  test('a translated request is accepted and its answer translates back', async () => {
    const res = await post(good, translator.request(input({ messages: [user('hello')], tools: [WEATHER, TIME] })).body);
    const out = translator.response((await res.json()) as any, res.status, input({ messages: [user('hello')], tools: [WEATHER, TIME] })) as any;
    expect(out.choices[0].message.tool_calls.map((c: any) => c.function.name)).toEqual(['get_weather', 'get_time']);
    expect(out.usage).toEqual(OPENAI_USAGE);
  });
});
