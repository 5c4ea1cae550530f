import { isGatewayError, type GatewayError } from '../../../src/domain/errors';
import type { JsonObject, JsonValue } from '../../../src/domain';
import { SseParser } from '../../../src/domain/sse';
import { parsePath } from '../../../src/core/endpoints';
import { openAIResponses, RESPONSES_ROUTE } from '../../../src/surfaces';

/** OpenAI Responses for providers that do not speak it: request → chat, chat → Response, chunks → events. */

const R = RESPONSES_ROUTE;
const toChat = (body: JsonObject) => openAIResponses.attemptBody!(R, body);
const ctx = (request: JsonObject = {}) => ({ requestedModel: 'claude-x', provider: 'anthropic', request: { model: 'claude-x', ...request } });

function refusal(run: () => unknown): GatewayError {
  try {
    run();
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
  throw new Error('did not refuse');
}

test.each(['/v1/responses', '/responses', '/v1/langchain/responses'])('%s is the responses endpoint, with the Responses surface and its own prefix', (path) => {
  const p = parsePath(path);
  expect(p.endpoint).toBe('responses');
  expect(p.prefix).toBe(path.slice(0, -'/responses'.length));
  expect(p.surface?.surface).toBe(openAIResponses);
});

test('plugins see the Responses body itself; native for OpenAI-compatible providers only', () => {
  const body = { model: 'm', input: 'x' };
  expect(openAIResponses.request(R, body)).toBe(body);
  for (const t of ['openai', 'openai-compatible']) expect(openAIResponses.native!(R, t)).toBe(true);
  for (const t of ['anthropic', 'google', 'cohere']) expect(openAIResponses.native!(R, t)).toBe(false);
});

describe('request → chat completions', () => {
  test.each<[string, JsonObject, JsonObject]>([
    ['string input', { model: 'm', input: 'hi' }, { model: 'm', messages: [{ role: 'user', content: 'hi' }] }],
    [
      'instructions, limits, sampling, user, stream',
      { model: 'm', instructions: 'sys', input: 'hi', max_output_tokens: 50, temperature: 0.2, top_p: 0.5, user: 'u', stream: true, parallel_tool_calls: false, store: false },
      {
        model: 'm',
        messages: [{ role: 'system', content: 'sys' }, { role: 'user', content: 'hi' }],
        max_tokens: 50,
        temperature: 0.2,
        top_p: 0.5,
        user: 'u',
        parallel_tool_calls: false,
        stream: true,
        stream_options: { include_usage: true },
      },
    ],
    [
      'message items: developer → system, input_text joined, images kept, assistant history',
      {
        model: 'm',
        input: [
          { role: 'developer', content: 'rules' },
          { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'look' }, { type: 'input_image', image_url: 'https://x/i.png', detail: 'low' }] },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'ok', annotations: [] }] },
          { role: 'user', content: [{ type: 'input_text', text: 'a' }, { type: 'input_text', text: 'b' }] },
        ],
      },
      {
        model: 'm',
        messages: [
          { role: 'system', content: 'rules' },
          { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'https://x/i.png', detail: 'low' } }] },
          { role: 'assistant', content: 'ok' },
          { role: 'user', content: 'ab' },
        ],
      },
    ],
    [
      'function calls join the assistant turn; outputs are tool messages; reasoning dropped',
      {
        model: 'm',
        input: [
          { role: 'user', content: 'weather?' },
          { type: 'reasoning', id: 'rs_1', summary: [] },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.' }] },
          { type: 'function_call', call_id: 'c1', name: 'w', arguments: '{"city":"Paris"}' },
          { type: 'function_call', call_id: 'c2', name: 'w', arguments: '{}' },
          { type: 'function_call_output', call_id: 'c1', output: 'sunny' },
          { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: 'rain' }] },
        ],
      },
      {
        model: 'm',
        messages: [
          { role: 'user', content: 'weather?' },
          {
            role: 'assistant',
            content: 'Checking.',
            tool_calls: [
              { id: 'c1', type: 'function', function: { name: 'w', arguments: '{"city":"Paris"}' } },
              { id: 'c2', type: 'function', function: { name: 'w', arguments: '{}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
          { role: 'tool', tool_call_id: 'c2', content: 'rain' },
        ],
      },
    ],
    [
      'function tools, tool_choice, json_schema format',
      {
        model: 'm',
        input: 'x',
        tools: [{ type: 'function', name: 'w', description: 'd', parameters: { type: 'object' }, strict: true }],
        tool_choice: { type: 'function', name: 'w' },
        text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true } },
      },
      {
        model: 'm',
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'function', function: { name: 'w', parameters: { type: 'object' }, description: 'd', strict: true } }],
        tool_choice: { type: 'function', function: { name: 'w' } },
        response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, strict: true } },
      },
    ],
    ['json_object format', { model: 'm', input: 'x', text: { format: { type: 'json_object' } } }, { model: 'm', messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } }],
  ])('%s', (_name, body, expected) => {
    expect(toChat(body)).toEqual(expected);
  });

  test.each<[string, JsonObject, string]>([
    ['previous_response_id', { model: 'm', input: 'x', previous_response_id: 'resp_1' }, 'previous_response_id'],
    ['conversation', { model: 'm', input: 'x', conversation: { id: 'conv_1' } }, 'conversation'],
    ['store: true', { model: 'm', input: 'x', store: true }, 'store'],
    ['background', { model: 'm', input: 'x', background: true }, 'background'],
    ['a stored prompt', { model: 'm', prompt: { id: 'pmpt_1' } }, 'prompt'],
    ['no input', { model: 'm' }, 'input'],
    ['a hosted tool', { model: 'm', input: 'x', tools: [{ type: 'web_search' }] }, 'tools[0]'],
    ['a hosted tool choice', { model: 'm', input: 'x', tools: [{ type: 'function', name: 'w' }], tool_choice: { type: 'file_search' } }, 'tool_choice'],
    ['an item of another type', { model: 'm', input: [{ type: 'computer_call', id: 'x' }] }, 'input[0].type'],
    ['a file image', { model: 'm', input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'f' }] }] }, 'input[0].content[0]'],
    ['a file part', { model: 'm', input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }, 'input[0].content[0].type'],
    ['a bad role', { model: 'm', input: [{ role: 'tool', content: 'x' }] }, 'input[0].role'],
  ])('refused: %s', (_name, body, param) => {
    const err = refusal(() => toChat(body));
    expect([err.status, err.param, err.type]).toEqual([400, param, 'invalid_request_error']);
    expect(err.message).toContain(param.replace(/[.[].*$/, ''));
  });
});

describe('chat completion → Response', () => {
  const completion = (message: JsonObject, finish: string) => ({
    id: 'chatcmpl-r1',
    created: 1700000000,
    model: 'x',
    choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }],
    usage: { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14, prompt_tokens_details: { cached_tokens: 3 }, completion_tokens_details: { reasoning_tokens: 1 } },
  });

  test('text: a completed Response echoing the request, with usage', () => {
    const r = openAIResponses.response(R, completion({ content: 'hello' }, 'stop'), ctx({ instructions: 'sys', max_output_tokens: 9, tools: [] })) as any;
    expect(r).toMatchObject({
      id: 'resp_r1',
      object: 'response',
      created_at: 1700000000,
      status: 'completed',
      incomplete_details: null,
      error: null,
      model: 'claude-x',
      instructions: 'sys',
      max_output_tokens: 9,
      parallel_tool_calls: true,
      tool_choice: 'auto',
      text: { format: { type: 'text' } },
      usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 3 }, output_tokens: 4, output_tokens_details: { reasoning_tokens: 1 }, total_tokens: 14 },
    });
    expect(r.output).toEqual([{ type: 'message', id: expect.stringMatching(/^msg_/), status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'hello', annotations: [], logprobs: [] }] }]);
  });

  test.each<[string, string, string, JsonValue]>([
    ['length', 'length', 'incomplete', { reason: 'max_output_tokens' }],
    ['content_filter', 'content_filter', 'incomplete', { reason: 'content_filter' }],
    ['tool_calls', 'tool_calls', 'completed', null],
  ])('finish %s → status %s', (_n, finish, status, details) => {
    const r = openAIResponses.response(R, completion({ content: 'x' }, finish), ctx()) as any;
    expect([r.status, r.incomplete_details]).toEqual([status, details]);
  });

  test('tool calls become function_call items', () => {
    const r = openAIResponses.response(R, completion({ content: null, tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'w', arguments: '{"a":1}' } }] }, 'tool_calls'), ctx()) as any;
    expect(r.output).toEqual([{ type: 'function_call', id: expect.stringMatching(/^fc_/), call_id: 'call_9', name: 'w', arguments: '{"a":1}', status: 'completed' }]);
  });

  test('errors keep OpenAI shape', () => {
    const err = { error: { message: 'x', type: 'invalid_request_error', param: null, code: null } };
    expect(openAIResponses.error(400, err)).toBe(err);
  });
});

const data = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
const chunk = (delta: JsonObject, finish: string | null = null) => data({ id: 'chatcmpl-s', created: 1700000001, choices: [{ index: 0, delta, finish_reason: finish }] });

function translate(text: string, request: JsonObject = {}): any[] {
  const stream = openAIResponses.stream(R, ctx(request))!;
  const out = [];
  for (const ev of new SseParser().push(text)) out.push(...stream.translate(ev));
  out.push(...stream.finish());
  return out.map((e) => {
    const payload = JSON.parse(e.data);
    expect(e.event).toBe(payload.type);
    return payload;
  });
}

describe('chunks → Responses events', () => {
  test('text: created, in_progress, item and part added, deltas, dones, completed; sequence numbers 0..n', () => {
    const events = translate(chunk({ role: 'assistant', content: '' }) + chunk({ content: 'Hel' }) + chunk({ content: 'lo' }) + chunk({}, 'stop') + data({ id: 'chatcmpl-s', choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } }) + 'data: [DONE]\n\n');
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual([...events.keys()]);
    expect(events[0].response).toMatchObject({ id: 'resp_s', status: 'in_progress', output: [], created_at: 1700000001 });
    expect(events[6]).toMatchObject({ text: 'Hello', output_index: 0, content_index: 0 });
    const done = events.at(-1).response;
    expect(done).toMatchObject({ id: 'resp_s', status: 'completed', usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7 } });
    expect(done.output[0]).toMatchObject({ type: 'message', status: 'completed', content: [{ type: 'output_text', text: 'Hello' }] });
    expect(events[2].item.id).toBe(done.output[0].id);
  });

  test('tool calls: function_call items with argument deltas and done', () => {
    const events = translate(
      chunk({ tool_calls: [{ index: 0, id: 'call_a', function: { name: 'w', arguments: '' } }] }) +
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"c":' } }] }) +
        chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }) +
        chunk({}, 'tool_calls') +
        'data: [DONE]\n\n',
    );
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events[2].item).toMatchObject({ type: 'function_call', call_id: 'call_a', name: 'w', arguments: '', status: 'in_progress' });
    expect(events[5]).toMatchObject({ arguments: '{"c":1}', name: 'w' });
    expect(events.at(-1).response.output).toEqual([expect.objectContaining({ type: 'function_call', call_id: 'call_a', arguments: '{"c":1}', status: 'completed' })]);
  });

  test('length ends with response.incomplete', () => {
    const events = translate(chunk({ content: 'x' }) + chunk({}, 'length') + 'data: [DONE]\n\n');
    expect(events.at(-1)).toMatchObject({ type: 'response.incomplete', response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } } });
  });

  test('an OpenAI error event, or abort: error then response.failed, then nothing', () => {
    const events = translate(chunk({ content: 'x' }) + data({ error: { message: 'stop', type: 'invalid_request_error', param: null, code: 'content_filtered' } }) + 'data: [DONE]\n\n');
    expect(events.slice(-2)).toEqual([
      { type: 'error', sequence_number: expect.any(Number), code: 'content_filtered', message: 'stop', param: null },
      expect.objectContaining({ type: 'response.failed', response: expect.objectContaining({ status: 'failed', error: { code: 'content_filtered', message: 'stop' } }) }),
    ]);
    const stream = openAIResponses.stream(R, ctx())!;
    const aborted = stream.abort({ error: { message: 'Budget spent.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } }).map((e) => JSON.parse(e.data).type);
    expect(aborted).toEqual(['response.created', 'response.in_progress', 'error', 'response.failed']);
    expect(stream.finish()).toEqual([]);
  });

  test('a cut stream fails rather than completing', () => {
    expect(translate(chunk({ content: 'x' })).at(-1).type).toBe('response.failed');
  });
});
