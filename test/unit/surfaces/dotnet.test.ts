import { GatewayError, isGatewayError } from '../../../src/domain/errors';
import type { JsonObject, JsonValue } from '../../../src/domain';
import { SseEvent, SseParser } from '../../../src/domain/sse';
import { parsePath } from '../../../src/core/endpoints';
import { matchSurface, SURFACES } from '../../../src/surfaces';
import { dotnet } from '../../../src/surfaces/dotnet';
import type { SurfaceRoute } from '../../../src/surfaces/types';

/** The earlier .NET gateway's surface: paths, request bodies (both shapes), answers and stream events. */

const route = (rest: string): SurfaceRoute => {
  const r = dotnet.route(rest);
  if (!r) throw new Error(`no route for ${rest}`);
  return r;
};
const COMPLETION = route('/completion');
const STREAM = route('/completion/stream');
const EMBEDDING = route('/embedding');
const ctx = { requestedModel: 'openai.gpt-4-turbo', provider: 'openai' };

function refusal(run: () => unknown): GatewayError {
  try {
    run();
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
  throw new Error('did not refuse');
}

test('is listed among the surfaces', () => {
  expect(SURFACES).toContain(dotnet);
});

describe('paths', () => {
  test.each<[string, string, string | undefined]>([
    ['/api/v1/completion', 'chat.completions', 'completion'],
    ['/api/v1/completion/', 'chat.completions', 'completion'],
    ['/api/v1/completion/stream', 'chat.completions', 'completion.stream'],
    ['/api/v1/embedding', 'embeddings', 'embedding'],
    ['/api/v1/models', 'models', 'models.list'],
    ['/api/v1/models/openai.gpt-4-turbo', 'models', 'models.get'],
    ['/api/v1/models/provider/OpenAI', 'models', 'models.provider'],
    ['/api/v1/models/provider/a/b', 'models', 'models.get'],
    ['/api/v1/chat/completions', 'unknown', undefined],
    ['/api/v1', 'unknown', undefined],
    ['/api/v1/admin/usage', 'unknown', undefined],
  ])('%s → %s (%s)', (path, endpoint, operation) => {
    const parsed = parsePath(path);
    expect(parsed).toMatchObject({ endpoint, prefix: '/api/v1' });
    expect(parsed.surface?.surface).toBe(dotnet);
    expect(parsed.surface?.route?.operation).toBe(operation);
  });

  test.each(['/api/v10/completion', '/apiv1/completion', '/v1/chat/completions', '/api/completion'])('%s is not the surface’s', (path) => {
    expect(matchSurface(path)).toBeUndefined();
    expect(parsePath(path).surface).toBeUndefined();
  });
});

describe('completion requests', () => {
  const user = (content: string) => ({ role: 'user', content });
  test.each<[string, JsonObject, JsonObject]>([
    ['OpenAI shape, unchanged', { model: 'gpt-4o', messages: [user('hi')], temperature: 0.5, max_tokens: 10 }, { model: 'gpt-4o', messages: [user('hi')], temperature: 0.5, max_tokens: 10 }],
    [
      '.NET DTO: modelId, prompt, systemPrompt, camelCase options',
      { modelId: 'openai.gpt-4-turbo', prompt: 'hi', systemPrompt: 'Be brief.', maxTokens: 100, temperature: 0.2, topP: 0.9, stopSequences: ['END'], userId: 'u1' },
      { model: 'openai.gpt-4-turbo', max_tokens: 100, temperature: 0.2, top_p: 0.9, stop: ['END'], user: 'u1', messages: [{ role: 'system', content: 'Be brief.' }, user('hi')] },
    ],
    ['`system` as the system prompt', { modelId: 'm', prompt: 'hi', system: 'S' }, { model: 'm', messages: [{ role: 'system', content: 'S' }, user('hi')] }],
    [
      'nulls are absent (System.Text.Json writes unset properties)',
      { model: null, modelId: 'm', messages: null, prompt: 'hi', systemPrompt: null, maxTokens: null, temperature: null, stopSequences: null, userId: null },
      { model: 'm', messages: [user('hi')] },
    ],
    ['both names with the same value', { model: 'm', modelId: 'm', prompt: 'hi', maxTokens: 5, max_tokens: 5 }, { model: 'm', max_tokens: 5, messages: [user('hi')] }],
    ['messages with .NET enum roles are lower-cased', { modelId: 'm', messages: [{ role: 'User', content: 'hi' }] }, { model: 'm', messages: [user('hi')] }],
    ['systemPrompt before messages', { modelId: 'm', systemPrompt: 'S', messages: [user('hi')] }, { model: 'm', messages: [{ role: 'system', content: 'S' }, user('hi')] }],
    ['penalties and unknown OpenAI fields pass', { modelId: 'm', prompt: 'hi', frequencyPenalty: 1, seed: 7, tools: null }, { model: 'm', frequency_penalty: 1, seed: 7, tools: null, messages: [user('hi')] }],
    ['stream: true is honoured on /completion', { modelId: 'm', prompt: 'hi', stream: true }, { model: 'm', messages: [user('hi')], stream: true }],
  ])('%s', (_name, body, expected) => {
    const before = JSON.stringify(body);
    expect(dotnet.request(COMPLETION, body)).toEqual(expected);
    expect(JSON.stringify(body)).toBe(before);
  });

  test('the stream endpoint always streams', () => {
    expect(dotnet.request(STREAM, { modelId: 'm', prompt: 'hi' })).toMatchObject({ stream: true });
    expect(dotnet.request(STREAM, { modelId: 'm', prompt: 'hi', stream: false })).toMatchObject({ stream: true });
  });

  test.each<[string, JsonObject, string, string]>([
    ['no model', { prompt: 'hi' }, 'model', 'missing_required_parameter'],
    ['modelId not a string', { modelId: 42, prompt: 'hi' }, 'modelId', 'invalid_type'],
    ['empty modelId', { modelId: '', prompt: 'hi' }, 'modelId', 'invalid_value'],
    ['model and modelId differ', { model: 'a', modelId: 'b', prompt: 'hi' }, 'modelId', 'invalid_value'],
    ['no messages and no prompt', { modelId: 'm' }, 'messages', 'missing_required_parameter'],
    ['prompt not a string', { modelId: 'm', prompt: ['hi'] }, 'prompt', 'invalid_type'],
    ['empty prompt', { modelId: 'm', prompt: '' }, 'prompt', 'invalid_value'],
    ['messages and prompt', { modelId: 'm', prompt: 'hi', messages: [{ role: 'user', content: 'x' }] }, 'prompt', 'invalid_value'],
    ['messages not an array', { modelId: 'm', messages: 'hi' }, 'messages', 'invalid_type'],
    ['empty messages', { modelId: 'm', messages: [] }, 'messages', 'invalid_value'],
    ['systemPrompt not a string', { modelId: 'm', prompt: 'hi', systemPrompt: 1 }, 'systemPrompt', 'invalid_type'],
    ['maxTokens not an integer', { modelId: 'm', prompt: 'hi', maxTokens: 1.5 }, 'maxTokens', 'invalid_type'],
    ['maxTokens as a string', { modelId: 'm', prompt: 'hi', maxTokens: '100' }, 'maxTokens', 'invalid_type'],
    ['maxTokens zero', { modelId: 'm', prompt: 'hi', maxTokens: 0 }, 'maxTokens', 'invalid_value'],
    ['temperature out of range', { modelId: 'm', prompt: 'hi', temperature: 3 }, 'temperature', 'invalid_value'],
    ['topP out of range', { modelId: 'm', prompt: 'hi', topP: 1.5 }, 'topP', 'invalid_value'],
    ['topP and top_p differ', { modelId: 'm', prompt: 'hi', topP: 0.5, top_p: 0.6 }, 'topP', 'invalid_value'],
    ['stopSequences not strings', { modelId: 'm', prompt: 'hi', stopSequences: [1] }, 'stopSequences', 'invalid_type'],
    ['too many stopSequences', { modelId: 'm', prompt: 'hi', stopSequences: ['a', 'b', 'c', 'd', 'e'] }, 'stopSequences', 'invalid_value'],
    ['userId not a string', { modelId: 'm', prompt: 'hi', userId: 7 }, 'userId', 'invalid_type'],
    ['stream not a boolean', { modelId: 'm', prompt: 'hi', stream: 'yes' }, 'stream', 'invalid_type'],
  ])('%s → 400 naming %s', (_name, body, param, code) => {
    const err = refusal(() => dotnet.request(COMPLETION, body));
    expect([err.status, err.param, err.code]).toEqual([400, param, code]);
    expect(err.message).toContain(param);
    expect(err.toBody().error.param).toBe(param);
  });
});

describe('embedding requests', () => {
  test.each<[string, JsonObject, JsonObject]>([
    ['OpenAI shape', { model: 'text-embedding-3-small', input: ['a', 'b'] }, { model: 'text-embedding-3-small', input: ['a', 'b'] }],
    ['text', { modelId: 'openai.text-embedding-3-small', text: 'a' }, { model: 'openai.text-embedding-3-small', input: 'a' }],
    ['texts, camelCase options', { modelId: 'm', texts: ['a', 'b'], encodingFormat: 'float', dimensions: 8, userId: 'u' }, { model: 'm', input: ['a', 'b'], encoding_format: 'float', dimensions: 8, user: 'u' }],
    ['nulls are absent', { modelId: 'm', text: null, texts: ['a'], input: null }, { model: 'm', input: ['a'] }],
  ])('%s', (_name, body, expected) => {
    expect(dotnet.request(EMBEDDING, body)).toEqual(expected);
  });

  test.each<[string, JsonObject, string, string]>([
    ['no input', { modelId: 'm' }, 'input', 'missing_required_parameter'],
    ['no model', { text: 'a' }, 'model', 'missing_required_parameter'],
    ['text not a string', { modelId: 'm', text: ['a'] }, 'text', 'invalid_type'],
    ['texts empty', { modelId: 'm', texts: [] }, 'texts', 'invalid_type'],
    ['texts not strings', { modelId: 'm', texts: [1] }, 'texts', 'invalid_type'],
    ['text and input differ', { modelId: 'm', input: 'a', text: 'b' }, 'text', 'invalid_value'],
    ['dimensions zero', { modelId: 'm', text: 'a', dimensions: 0 }, 'dimensions', 'invalid_value'],
  ])('%s → 400 naming %s', (_name, body, param, code) => {
    const err = refusal(() => dotnet.request(EMBEDDING, body));
    expect([err.status, err.param, err.code]).toEqual([400, param, code]);
  });
});

describe('answers', () => {
  const completion = {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4-turbo-2024-04-09',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
  };

  test('a completion keeps OpenAI’s fields and gains the .NET ones', () => {
    const out = dotnet.response(COMPLETION, completion, ctx);
    expect(out).toEqual({
      ...completion,
      content: 'Hello!',
      modelId: 'openai.gpt-4-turbo',
      provider: 'openai',
      finishReason: 'stop',
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5, promptTokens: 3, completionTokens: 2, totalTokens: 5 },
    });
    // Idempotent: a body translated twice (e.g. a cached answer) is the same.
    expect(dotnet.response(COMPLETION, out, ctx)).toEqual(out);
  });

  test('a completion without text or usage', () => {
    const body = { ...completion, choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [] }, finish_reason: 'tool_calls' }], usage: undefined } as unknown as JsonValue;
    expect(dotnet.response(COMPLETION, body, { requestedModel: undefined, provider: undefined })).toMatchObject({
      content: null,
      finishReason: 'tool_calls',
      modelId: 'gpt-4-turbo-2024-04-09',
      provider: null,
    });
  });

  test('embeddings gain `embeddings` in input order', () => {
    const body = {
      object: 'list',
      model: 'text-embedding-3-small',
      data: [
        { object: 'embedding', index: 1, embedding: [0.3, 0.4] },
        { object: 'embedding', index: 0, embedding: [0.1, 0.2] },
      ],
      usage: { prompt_tokens: 2, total_tokens: 2 },
    };
    expect(dotnet.response(EMBEDDING, body, ctx)).toEqual({
      ...body,
      embeddings: [
        [0.1, 0.2],
        [0.3, 0.4],
      ],
      modelId: 'openai.gpt-4-turbo',
      provider: 'openai',
      usage: { prompt_tokens: 2, total_tokens: 2, promptTokens: 2, completionTokens: 0, totalTokens: 2 },
    });
  });

  test('models gain displayName and contextWindow', () => {
    const model = { id: 'fast', object: 'model', created: 0, owned_by: 'openai', provider: 'openai', display_name: 'Fast', context_window: 128000 };
    const plain = { id: 'echo', object: 'model', created: 0, owned_by: 'echo', provider: 'echo' };
    expect(dotnet.response(route('/models'), { object: 'list', data: [model, plain] }, ctx)).toEqual({
      object: 'list',
      data: [
        { ...model, displayName: 'Fast', contextWindow: 128000 },
        { ...plain, displayName: 'echo' },
      ],
    });
    expect(dotnet.response(route('/models/fast'), model, ctx)).toEqual({ ...model, displayName: 'Fast', contextWindow: 128000 });
  });

  test('errors keep OpenAI’s shape', () => {
    const err = new GatewayError(400, 'invalid_value', 'x', { param: 'maxTokens' }).toBody();
    expect(dotnet.error(400, err as unknown as JsonValue)).toEqual(err);
  });

  test('non-objects pass through', () => {
    expect(dotnet.response(COMPLETION, 'text', ctx)).toBe('text');
    expect(dotnet.response(EMBEDDING, null, ctx)).toBeNull();
  });
});

describe('stream events', () => {
  const chunk = (delta: JsonObject, finish: string | null = null, extra: JsonObject = {}) =>
    JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta, finish_reason: finish }], ...extra });

  function translate(data: string[]): string[] {
    const stream = dotnet.stream(STREAM, ctx)!;
    const out = data.flatMap((d) => stream.translate(new SseEvent(undefined, d)));
    out.push(...stream.finish());
    return out.map((e) => e.data);
  }

  test.each<[string, string, JsonObject | string]>([
    ['a content delta carries `content`', chunk({ content: 'Hel' }), { content: 'Hel', finishReason: null, modelId: 'openai.gpt-4-turbo', provider: 'openai' }],
    ['the role chunk carries empty content', chunk({ role: 'assistant', content: '' }), { content: '' }],
    ['the last chunk carries the finish reason', chunk({}, 'stop'), { content: '', finishReason: 'stop' }],
    [
      'the usage chunk carries camelCase usage',
      JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }),
      { content: '', usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5, promptTokens: 3, completionTokens: 2, totalTokens: 5 } },
    ],
  ])('%s', (_name, data, expected) => {
    const [out] = translate([data]);
    expect(JSON.parse(out)).toMatchObject({ ...JSON.parse(data), ...(expected as JsonObject) });
  });

  test('error events and [DONE] pass unchanged', () => {
    const error = JSON.stringify({ error: { message: 'blocked', type: 'invalid_request_error', param: null, code: 'content_filtered' } });
    expect(translate([error, '[DONE]'])).toEqual([error, '[DONE]']);
  });

  test('a whole stream: the deltas assemble into the text, serialised as SSE', () => {
    const stream = dotnet.stream(STREAM, ctx)!;
    const text = [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hello, ' }), chunk({ content: 'world' }), chunk({}, 'stop'), '[DONE]']
      .flatMap((d) => stream.translate(new SseEvent(undefined, d)))
      .map((e) => e.serialize())
      .join('');
    const events = new SseParser().push(text);
    expect(events.map((e) => e.data).at(-1)).toBe('[DONE]');
    expect(
      events
        .slice(0, -1)
        .map((e) => (e.json as { content: string }).content)
        .join(''),
    ).toBe('Hello, world');
  });

  test('embeddings and models do not stream', () => {
    expect(dotnet.stream(EMBEDDING, ctx)).toBeUndefined();
    expect(dotnet.stream(route('/models'), ctx)).toBeUndefined();
  });
});
