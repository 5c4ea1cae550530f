import plugin from '../../plugins/request-validation';
import { isGatewayError } from '../../src/domain/errors';
import type { PluginHostApi, RequestContext } from '../../src/plugins/api';
import type { Endpoint, JsonObject } from '../../src/domain';
import { tooDeep } from '../../src/domain/json-depth';
import { paramName, RequestValidator } from '../../plugins/request-validation/validator';
import { INVALID_BODIES } from '../helpers/hostile/bodies';

const validator = new RequestValidator();

const VALID: [string, Endpoint, JsonObject][] = [
  ['minimal chat', 'chat.completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }],
  [
    'every role and part type',
    'chat.completions',
    {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Use tools.' }] },
        {
          role: 'user',
          name: 'alice',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } },
            { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
            { type: 'file', file: { file_id: 'file-1' } },
          ],
        },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'look', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: 'a cat' }] },
        { role: 'assistant', content: [{ type: 'refusal', refusal: 'no' }], refusal: null },
        { role: 'function', name: 'legacy', content: null },
      ],
      tools: [{ type: 'function', function: { name: 'look', description: 'd', parameters: { type: 'object', properties: {} }, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'look' } },
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } },
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0,
      top_p: 1,
      n: 1,
      max_tokens: 1,
      max_completion_tokens: 100,
      presence_penalty: -2,
      frequency_penalty: 2,
      stop: ['a', 'b', 'c', 'd'],
      logit_bias: { '50256': -100 },
      seed: -5,
      user: 'u',
      parallel_tool_calls: false,
      logprobs: true,
      top_logprobs: 20,
    },
  ],
  [
    'vendor extras everywhere',
    'chat.completions',
    {
      model: 'meta/llama-3',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }], x_vendor: 1 }],
      top_k: 40,
      repetition_penalty: 1.1,
      guided_json: { type: 'object' },
      chat_template_kwargs: { enable_thinking: false },
      tools: [{ type: 'function', function: { name: 'f', x_extra: true }, x_tool_extra: 'y' }],
    },
  ],
  ['nulls for optional fields', 'chat.completions', { model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: null, stop: null, tools: null, tool_choice: null, response_format: null, seed: null, user: null }],
  ['stop as a string, tool_choice as a string', 'chat.completions', { model: 'm', messages: [{ role: 'user', content: 'x' }], stop: '\n', tool_choice: 'required' }],
  ['custom tools', 'chat.completions', { model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'custom', custom: { name: 'grammar' } }] }],
  ['embeddings of strings', 'embeddings', { model: 'e', input: ['a', 'b'], encoding_format: 'base64', dimensions: 256 }],
  ['embeddings of tokens', 'embeddings', { model: 'e', input: [[1, 2], [3]] }],
  ['embeddings of one token list', 'embeddings', { model: 'e', input: [1, 2, 3], input_type: 'query' }],
  ['legacy completion', 'completions', { model: 'm', prompt: ['a', 'b'], best_of: 2, echo: true, logprobs: 5, suffix: null }],
  ['completion of tokens', 'completions', { model: 'm', prompt: [[1, 2]] }],
  [
    'responses',
    'responses',
    {
      model: 'gpt-4o',
      instructions: 'Be brief.',
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
        { type: 'function_call', call_id: 'c', name: 'f', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c', output: 'ok' },
        { type: 'reasoning', id: 'r', summary: [] },
      ],
      tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }, { type: 'web_search' }],
      tool_choice: { type: 'web_search' },
      max_output_tokens: 100,
      truncation: 'auto',
      text: { format: { type: 'text' } },
    },
  ],
];

describe('request validation schemas', () => {
  test.each(VALID)('valid: %s passes, unchanged', (_name, endpoint, body) => {
    const before = structuredClone(body);
    expect(validator.validate(endpoint, body)).toBeUndefined();
    expect(body).toEqual(before);
  });

  // `model` null or empty is answered by the core before any plugin (missing_required_parameter).
  const CORE_OWNED = new Set(['model is null', 'model is empty']);
  const invalid = Object.entries(INVALID_BODIES).flatMap(([endpoint, cases]) =>
    cases.filter(([name]) => !CORE_OWNED.has(name)).map(([name, body, param, code]) => [`${endpoint}: ${name}`, endpoint as Endpoint, body, param, code] as const),
  );

  test.each(invalid)('invalid: %s names its param', (_name, endpoint, body, param, code) => {
    const before = structuredClone(body);
    const problem = validator.validate(endpoint, body as JsonObject);
    expect(problem).toMatchObject({ param, ...(code ? { code } : {}) });
    expect(problem!.message).toContain(`'${param}'`);
    expect(body).toEqual(before);
  });

  test('the first error in schema order is reported, the same every time', () => {
    const body: JsonObject = { model: 'm', messages: [{ role: 'bot', content: 5 }, { role: 'user' }], temperature: 9, tools: [{ type: 'x' }] };
    const first = validator.validate('chat.completions', body);
    expect(first).toMatchObject({ param: 'messages[0].role', code: 'invalid_value' });
    for (let i = 0; i < 5; i++) expect(new RequestValidator().validate('chat.completions', body)).toEqual(first);
  });

  test('messages name the field and the expectation, never the offending value', () => {
    const secret = 'sk-live-0123456789abcdef';
    const bodies: JsonObject[] = [
      { model: 'm', messages: [{ role: secret, content: 'x' }] },
      { model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: `${secret} x` } }] },
      { model: 'm', messages: [{ role: 'user', content: 'x' }], stop: secret.length },
      { model: 'm', messages: [{ role: 'user', content: 'x' }], response_format: { type: secret } },
    ];
    for (const body of bodies) {
      const p = validator.validate('chat.completions', body);
      expect(p).toBeDefined();
      expect(p!.message).not.toContain(secret);
    }
  });

  test('endpoints without a request schema are left alone', () => {
    expect(validator.validate('models', { anything: 1 })).toBeUndefined();
    expect(validator.validate('unknown', { messages: 'x' })).toBeUndefined();
  });

  test('max_messages caps the conversation', () => {
    const v = new RequestValidator({ maxMessages: 3 });
    const m = { role: 'user', content: 'x' };
    expect(v.validate('chat.completions', { model: 'm', messages: [m, m, m] })).toBeUndefined();
    expect(v.validate('chat.completions', { model: 'm', messages: [m, m, m, m] })).toMatchObject({ param: 'messages', code: 'invalid_value' });
  });

  test('extra content part types are accepted only when configured', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: [{ type: 'video_url', video_url: { url: 'https://x' } }] }] };
    expect(validator.validate('chat.completions', body)).toMatchObject({ param: 'messages[0].content[0].type' });
    expect(new RequestValidator({ extraContentPartTypes: ['video_url', 'audio_url'] }).validate('chat.completions', body)).toBeUndefined();
  });
});

describe('nesting depth', () => {
  const nest = (depth: number): unknown => {
    let v: unknown = 1;
    for (let i = 0; i < depth; i++) v = { a: v };
    return v;
  };

  test('the body is level 1; a field past the limit is named', () => {
    // body (1) → metadata (2) → ... : 63 more levels under metadata reach exactly 64.
    const ok = { model: 'm', messages: [{ role: 'user', content: 'x' }], metadata: nest(63) };
    const deep = { ...ok, metadata: nest(64) };
    expect(tooDeep(ok, 64)).toBeUndefined();
    expect(tooDeep(deep, 64)).toBe('metadata');
    expect(validator.validate('chat.completions', ok as JsonObject)).toBeUndefined();
    expect(validator.validate('chat.completions', deep as JsonObject)).toMatchObject({ param: 'metadata', code: 'invalid_value' });
  });

  test('absurd depth is refused without recursion', () => {
    const text = '{"x":' + '['.repeat(200000) + ']'.repeat(200000) + '}';
    expect(tooDeep(JSON.parse(text), 64)).toBe('x');
    expect(tooDeep(JSON.parse('[' + '{"a":'.repeat(1000) + '1' + '}'.repeat(1000) + ']'), 64)).toBe('[0]');
  });
});

describe('param names', () => {
  test.each([
    ['', {}, ''],
    ['/messages/0/role', { messages: [{}] }, 'messages[0].role'],
    ['/tools/1/function/name', { tools: [{}, {}] }, 'tools[1].function.name'],
    ['/logit_bias/50256', { logit_bias: { '50256': 1 } }, 'logit_bias.50256'],
    ['/input/0/1', { input: [[1, 2]] }, 'input[0][1]'],
    ['/a~1b/c~0d', { 'a/b': { 'c~d': 1 } }, 'a/b.c~d'],
  ])('%s → %s', (pointer, body, name) => {
    expect(paramName(pointer, body)).toBe(name);
  });
});

describe('request-validation plugin', () => {
  const counted: Record<string, string>[] = [];
  const host = { metrics: { counter: () => ({ inc: (labels: Record<string, string>) => counted.push(labels) }) } } as unknown as PluginHostApi;
  const ctx = (endpoint: Endpoint, body: JsonObject | undefined) =>
    ({ request: { endpoint, body }, log: { debug: () => {} } }) as unknown as RequestContext;
  const options = { max_depth: 64, max_messages: 100, extra_content_part_types: ['text', 'video_url'] };

  test('an invalid body is a 400 OpenAI error naming the field, counted by endpoint and code', async () => {
    const hooks = await plugin.create(options, host);
    let thrown: unknown;
    try {
      hooks.onRequest!(ctx('chat.completions', { model: 'm', messages: [{ role: 'bot', content: 'x' }] }));
    } catch (err) {
      thrown = err;
    }
    expect(isGatewayError(thrown)).toBe(true);
    const e = thrown as import('../../src/domain/errors').GatewayError;
    expect(e.status).toBe(400);
    expect(e.toBody().error).toMatchObject({ type: 'invalid_request_error', param: 'messages[0].role', code: 'invalid_value' });
    expect(counted).toContainEqual({ endpoint: 'chat.completions', code: 'invalid_value' });
  });

  test('valid bodies, bodiless requests and other endpoints pass; OpenAI part types listed as extra are harmless', async () => {
    const hooks = await plugin.create(options, host);
    expect(hooks.onRequest!(ctx('chat.completions', { model: 'm', messages: [{ role: 'user', content: [{ type: 'video_url' }] }] }))).toBeUndefined();
    expect(hooks.onRequest!(ctx('models', undefined))).toBeUndefined();
    expect(hooks.onRequest!(ctx('unknown', { anything: true }))).toBeUndefined();
  });
});
