import type { JsonObject, JsonValue } from '../../../src/domain';
import { GatewayError } from '../../../src/domain/errors';
import { assistantMessage, buildCompletion, embeddingList, float32Base64 } from '../../../src/providers/shared/completion';
import { invalidValue, unsupportedEndpoint, unsupportedParameter } from '../../../src/providers/shared/errors';
import { asJson, isObj, nonEmpty, num, numOrZero, parseJson, positiveInt } from '../../../src/providers/shared/json';
import { includeUsage } from '../../../src/providers/shared/stream';
import { openAIUsage } from '../../../src/providers/shared/usage';

describe('json guards', () => {
  test.each<[unknown, boolean]>([
    [{}, true],
    [{ a: 1 }, true],
    [Object.create(null), true],
    [[], false],
    [null, false],
    [undefined, false],
    ['x', false],
    [0, false],
    [true, false],
  ])('isObj(%p) is %p', (v, expected) => {
    expect(isObj(v)).toBe(expected);
  });

  test.each<[unknown, number | undefined, number]>([
    [3, 3, 3],
    [0, 0, 0],
    [-1.5, -1.5, -1.5],
    [NaN, undefined, 0],
    [Infinity, undefined, 0],
    ['3', undefined, 0],
    [null, undefined, 0],
    [undefined, undefined, 0],
  ])('num(%p) is %p, numOrZero is %p', (v, n, orZero) => {
    expect(num(v)).toBe(n);
    expect(numOrZero(v)).toBe(orZero);
  });

  test.each<[unknown, number | undefined]>([
    [1, 1],
    [4096, 4096],
    [0, undefined],
    [-2, undefined],
    [1.5, undefined],
    ['8', undefined],
  ])('positiveInt(%p) is %p', (v, expected) => {
    expect(positiveInt(v)).toBe(expected);
  });

  test.each<[unknown, string | undefined]>([
    ['msg_1', 'msg_1'],
    ['', undefined],
    [5, undefined],
    [null, undefined],
  ])('nonEmpty(%p) is %p', (v, expected) => {
    expect(nonEmpty(v)).toBe(expected);
  });

  test.each<[string, unknown]>([
    ['{"a":1}', { a: 1 }],
    ['[1,2]', [1, 2]],
    ['null', null],
    ['"s"', 's'],
    ['0', 0],
    ['', undefined],
    ['{', undefined],
    ['plain text', undefined],
  ])('parseJson(%p) is %p', (text, expected) => {
    expect(parseJson(text)).toEqual(expected);
  });

  test('asJson hands back the same value', () => {
    const v = { id: 'x', n: [1] };
    expect(asJson(v)).toBe(v);
  });
});

describe('request errors', () => {
  test.each<[string, GatewayError, { code: string; param: string | null }]>([
    ['invalidValue', invalidValue('bad n', 'n'), { code: 'invalid_value', param: 'n' }],
    ['invalidValue with a code', invalidValue('no messages', 'messages', 'missing_required_parameter'), { code: 'missing_required_parameter', param: 'messages' }],
    ['invalidValue without a param', invalidValue('bad', null), { code: 'invalid_value', param: null }],
    ['unsupportedParameter', unsupportedParameter('no logprobs', 'logprobs'), { code: 'unsupported_parameter', param: 'logprobs' }],
    ['unsupportedEndpoint', unsupportedEndpoint('no embeddings'), { code: 'unsupported_endpoint', param: null }],
  ])('%s is a 400 invalid_request_error', (_name, err, expected) => {
    expect(err).toBeInstanceOf(GatewayError);
    expect(err.status).toBe(400);
    expect(err.type).toBe('invalid_request_error');
    expect(err.code).toBe(expected.code);
    expect(err.param).toBe(expected.param);
  });
});

describe('completion builders', () => {
  const call = { id: 'call_1', type: 'function' as const, function: { name: 'f', arguments: '{}' } };

  test.each([
    ['text only', 'hi', [], { role: 'assistant', content: 'hi', refusal: null }],
    ['empty answer', '', [], { role: 'assistant', content: '', refusal: null }],
    ['tool calls only', '', [call], { role: 'assistant', content: null, refusal: null, tool_calls: [call] }],
    ['text and tool calls', 'let me see', [call], { role: 'assistant', content: 'let me see', refusal: null, tool_calls: [call] }],
  ])('assistantMessage: %s', (_name, text, calls, expected) => {
    expect(assistantMessage(text, calls)).toStrictEqual(expected);
  });

  test('buildCompletion keeps a given id and leaves out unknown usage', () => {
    const choice = { index: 0, message: assistantMessage('hi', []), logprobs: null, finish_reason: 'stop' as const };
    const out = buildCompletion('msg_1', 'm', [choice]);
    expect(Object.keys(out)).toEqual(['id', 'object', 'created', 'model', 'choices']);
    expect(out).toMatchObject({ id: 'msg_1', object: 'chat.completion', model: 'm', choices: [choice] });
    expect(Math.abs(out.created - Date.now() / 1000)).toBeLessThan(5);
  });

  test('buildCompletion makes an id when there is none and keeps usage last', () => {
    const usage = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 };
    const out = buildCompletion(undefined, 'm', [], usage);
    expect(out.id).toMatch(/^chatcmpl-[0-9a-f]{24}$/);
    expect(Object.keys(out)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage']);
    expect(out.usage).toEqual(usage);
  });

  test('float32Base64 is little-endian float32', () => {
    const b64 = float32Base64([1, -2.5, 0]);
    const buf = Buffer.from(b64, 'base64');
    expect(buf.length).toBe(12);
    expect([buf.readFloatLE(0), buf.readFloatLE(4), buf.readFloatLE(8)]).toEqual([1, -2.5, 0]);
    expect(float32Base64([])).toBe('');
  });

  test.each([
    ['floats', false, [[0.5, 1]], [0.5, 1]],
    ['base64', true, [[0.5, 1]], float32Base64([0.5, 1])],
  ])('embeddingList: %s', (_name, base64, vectors, embedding) => {
    const usage = { prompt_tokens: 4, total_tokens: 4 };
    expect(embeddingList(vectors, 'e', base64, usage)).toEqual({ object: 'list', data: [{ object: 'embedding', index: 0, embedding }], model: 'e', usage });
  });
});

describe('includeUsage', () => {
  test.each<[JsonObject | undefined, boolean]>([
    [{ stream_options: { include_usage: true } }, true],
    [{ stream_options: { include_usage: false } }, false],
    [{ stream_options: { include_usage: 'true' } }, false],
    [{ stream_options: null }, false],
    [{ stream_options: [] }, false],
    [{}, false],
    [undefined, false],
  ])('includeUsage(%j) is %p', (body, expected) => {
    expect(includeUsage(body)).toBe(expected);
  });
});

describe('openAIUsage', () => {
  test.each<[string, JsonValue, ReturnType<typeof openAIUsage>]>([
    ['chat usage', { usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } }, { promptTokens: 3, completionTokens: 4, totalTokens: 7 }],
    ['total computed', { usage: { prompt_tokens: 3, completion_tokens: 4 } }, { promptTokens: 3, completionTokens: 4, totalTokens: 7 }],
    ['responses-API names', { usage: { input_tokens: 2, output_tokens: 5 } }, { promptTokens: 2, completionTokens: 5, totalTokens: 7 }],
    ['embeddings usage', { usage: { prompt_tokens: 6, total_tokens: 6 } }, { promptTokens: 6, completionTokens: 0, totalTokens: 6 }],
    [
      'cached and reasoning tokens',
      { usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 8 }, completion_tokens_details: { reasoning_tokens: 2 } } },
      { promptTokens: 10, completionTokens: 5, totalTokens: 15, cachedTokens: 8, reasoningTokens: 2 },
    ],
    ['non-number counts ignored', { usage: { prompt_tokens: '3', completion_tokens: null } }, { promptTokens: 0, completionTokens: 0, totalTokens: 0 }],
    ['no usage', { id: 'x' }, undefined],
    ['null usage', { usage: null }, undefined],
    ['not an object', [1, 2], undefined],
    ['null body', null, undefined],
  ])('%s', (_name, body, expected) => {
    expect(openAIUsage(body)).toStrictEqual(expected);
  });
});
