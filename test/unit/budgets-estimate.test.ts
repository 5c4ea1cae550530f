import { ATTACHMENT_TOKENS, estimatePromptTokens, eventTextChars, outputLimitField, requestedOutputTokens, textTokens } from '../../plugins/budgets/estimate';

/** The budgets plugin's estimates: cheap, and on the safe side of what providers count. */

describe('prompt estimate', () => {
  test('about four characters a token, plus a little per message', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'x'.repeat(400) }] };
    const n = estimatePromptTokens(body, 'chat.completions');
    expect(n).toBeGreaterThanOrEqual(100);
    expect(n).toBeLessThan(110);
  });

  test('images and files count a flat, generous amount whatever their size: a base64 image is not 300k tokens', () => {
    const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(1_000_000)}` } };
    const body = { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, image] }] };
    const n = estimatePromptTokens(body, 'chat.completions');
    expect(n).toBeGreaterThanOrEqual(ATTACHMENT_TOKENS);
    expect(n).toBeLessThan(ATTACHMENT_TOKENS + 30);
    // A bare data: URL elsewhere is an attachment too.
    expect(estimatePromptTokens({ input: [{ role: 'user', content: [{ type: 'input_file', file_data: 'data:...' }] }] }, 'responses')).toBeGreaterThanOrEqual(ATTACHMENT_TOKENS);
  });

  test('tools and schemas cost what their text does; fields the model never reads do not', () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'd'.repeat(400), parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const plain = { model: 'm', messages: [{ role: 'user', content: 'hi' }], user: 'u'.repeat(4000), metadata: { x: 'y'.repeat(4000) } };
    expect(estimatePromptTokens({ ...plain, tools }, 'chat.completions') - estimatePromptTokens(plain, 'chat.completions')).toBeGreaterThan(100);
    expect(estimatePromptTokens(plain, 'chat.completions')).toBeLessThan(20);
  });

  test('Responses, completions and embeddings read their own fields', () => {
    expect(estimatePromptTokens({ input: 'x'.repeat(400), instructions: 'y'.repeat(400) }, 'responses')).toBeGreaterThanOrEqual(200);
    expect(estimatePromptTokens({ prompt: 'x'.repeat(400) }, 'completions')).toBeGreaterThanOrEqual(100);
    expect(estimatePromptTokens({ input: ['x'.repeat(400), 'y'.repeat(400)] }, 'embeddings')).toBeGreaterThanOrEqual(200);
  });

  test('hostile nesting is cut off, not followed', () => {
    let deep: any = 'x';
    for (let i = 0; i < 10_000; i++) deep = [deep];
    expect(() => estimatePromptTokens({ messages: deep }, 'chat.completions')).not.toThrow();
  });
});

describe('output limit', () => {
  test.each([
    [{ max_tokens: 100 }, 'chat.completions', 100],
    [{ max_completion_tokens: 50, max_tokens: 100 }, 'chat.completions', 50],
    [{ max_tokens: 100, n: 3 }, 'chat.completions', 300],
    [{ max_output_tokens: 70 }, 'responses', 70],
    [{ max_tokens: 100 }, 'responses', undefined],
    [{}, 'chat.completions', undefined],
    [{ max_tokens: 0 }, 'chat.completions', undefined],
    [{ max_tokens: 'lots' }, 'chat.completions', undefined],
    [{ input: 'x' }, 'embeddings', 0],
  ])('%j on %s: %s', (body, endpoint, want) => {
    expect(requestedOutputTokens(body as any, endpoint)).toBe(want);
  });

  test('the field it is lowered in: the one the client used, else what the provider takes', () => {
    expect(outputLimitField({ max_completion_tokens: 5 }, 'chat.completions', 'openai-compatible')).toBe('max_completion_tokens');
    expect(outputLimitField({ max_tokens: 5 }, 'chat.completions', 'openai')).toBe('max_tokens');
    expect(outputLimitField({}, 'chat.completions', 'openai')).toBe('max_completion_tokens');
    expect(outputLimitField({}, 'chat.completions', 'anthropic')).toBe('max_tokens');
    expect(outputLimitField({}, 'responses', 'openai')).toBe('max_output_tokens');
    expect(outputLimitField({}, 'embeddings', 'openai')).toBeUndefined();
  });
});

describe('stream counting', () => {
  test.each([
    ['a chat delta', { choices: [{ index: 0, delta: { content: 'hello' } }] }, 5],
    ['the role-only first chunk', { choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] }, 0],
    ['reasoning and refusals', { choices: [{ delta: { reasoning_content: 'abc', refusal: 'no' } }] }, 5],
    ['tool call fragments', { choices: [{ delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a"' } }] } }] }, 5],
    ['several choices', { choices: [{ delta: { content: 'ab' } }, { delta: { content: 'cd' } }] }, 4],
    ['a completions chunk', { choices: [{ text: 'abc' }] }, 3],
    ['a Responses delta', { type: 'response.output_text.delta', delta: 'abcd' }, 4],
    ['the usage chunk', { choices: [], usage: { total_tokens: 9 } }, 0],
    ['garbage', ['x'], 0],
  ])('%s', (_name, json, chars) => {
    expect(eventTextChars(json as any)).toBe(chars);
  });

  test('any text is at least a token', () => {
    expect([0, 1, 4, 5, 8].map(textTokens)).toEqual([0, 1, 1, 2, 2]);
  });
});
