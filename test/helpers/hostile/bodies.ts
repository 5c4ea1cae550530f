import { json, type CorpusKeys, type Generator, type HostileCase } from './types';

/**
 * Hostile request bodies for the OpenAI endpoints: broken JSON, wrong types and values (with the
 * `param` the 400 must name), deep nesting, huge strings and invalid UTF-8.
 */

const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] };
const EMBED = { model: 'text-embedding-3-small', input: 'hello' };
const COMPLETION = { model: 'gpt-3.5-turbo-instruct', prompt: 'hello' };
const RESPONSE = { model: 'gpt-4o-mini', input: 'hello' };

const post = (path: string, key: string, body: string | Buffer) => ({ method: 'POST', path, headers: json(key), body });

/** Valid JSON cut short, and JSON-ish text that is not JSON. */
export const brokenJson: Generator = (k) => {
  const valid = JSON.stringify({ ...CHAT, temperature: 0.5, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] });
  const bodies: [string, string][] = [
    ['empty body', ''],
    ['whitespace only', '   \n\t '],
    ['lone brace', '{'],
    ['closing brace', '}'],
    ['unterminated key', '{"model":'],
    ['unterminated array', '{"model":"gpt-4o-mini","messages":['],
    ['bare word', 'nul'],
    ['trailing comma', '{"model":"gpt-4o-mini",}'],
    ['single quotes', "{'model':'gpt-4o-mini'}"],
    ['missing comma', '{"model":"gpt-4o-mini" "messages":[]}'],
    ['NaN', '{"model":NaN}'],
    ['Infinity', '{"model":"gpt-4o-mini","temperature":Infinity}'],
    ['byte order mark', '\uFEFF' + JSON.stringify(CHAT)],
    ['trailing garbage', JSON.stringify(CHAT) + 'garbage'],
    ['two objects', JSON.stringify(CHAT) + JSON.stringify(CHAT)],
    ['a string', '"just a string"'],
    ['a number', '42'],
    ['null', 'null'],
    ['true', 'true'],
    ['an empty array', '[]'],
    ['an array of requests', JSON.stringify([CHAT])],
    ['invalid escape', '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\\x41"}]}'],
    ['raw newline in a string', '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a\nb"}]}'],
    ['raw NUL in a string', '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a\u0000b"}]}'],
    ['comment', '{"model":"gpt-4o-mini", /* hi */ "messages":[]}'],
    ['100k open brackets', '['.repeat(100000)],
    ['an empty object', '{}'],
    ...[0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.99].map((f): [string, string] => [`cut at ${f * 100}%`, valid.slice(0, Math.floor(valid.length * f))]),
  ];
  const paths: [string, string][] = [
    ['/v1/chat/completions', k.client],
    ['/v1/embeddings', k.client],
  ];
  return paths.flatMap(([path, key]) => bodies.map(([name, body]): HostileCase => ({ group: 'broken JSON', name: `${path}: ${name}`, request: post(path, key, body), status: 400 })));
};

export type Mutation = [name: string, body: Record<string, unknown>, param: string, code?: string];
const set = (base: object, extra: Record<string, unknown>) => ({ ...base, ...extra });
const without = (base: Record<string, unknown>, key: string) => Object.fromEntries(Object.entries(base).filter(([k]) => k !== key));
const msgs = (...m: unknown[]) => set(CHAT, { messages: m });
const user = { role: 'user', content: 'hello' };
const part = (p: unknown) => msgs({ role: 'user', content: [p] });
const tool = (t: unknown) => set(CHAT, { tools: [t] });
const fn = (f: Record<string, unknown>) => tool({ type: 'function', function: { name: 'get_weather', ...f } });
const call = (c: Record<string, unknown>) => msgs(user, { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' }, ...c }] });

const MISSING = 'missing_required_parameter';
const TYPE = 'invalid_type';
const VALUE = 'invalid_value';

const CHAT_CASES: Mutation[] = [
  ['model is a number', set(CHAT, { model: 123 }), 'model', TYPE],
  ['model is an array', set(CHAT, { model: ['gpt-4o'] }), 'model', TYPE],
  ['model is an object', set(CHAT, { model: { id: 'gpt-4o' } }), 'model', TYPE],
  ['model is true', set(CHAT, { model: true }), 'model', TYPE],
  ['model is null', set(CHAT, { model: null }), 'model', MISSING],
  ['model is empty', set(CHAT, { model: '' }), 'model', MISSING],
  ['model is missing', without(CHAT, 'model'), 'model', MISSING],
  ['model is 300 characters', set(CHAT, { model: 'g'.repeat(300) }), 'model', VALUE],
  ['messages missing', without(CHAT, 'messages'), 'messages', MISSING],
  ['messages is a string', set(CHAT, { messages: 'hello' }), 'messages', TYPE],
  ['messages is an object', set(CHAT, { messages: { role: 'user', content: 'x' } }), 'messages', TYPE],
  ['messages is empty', set(CHAT, { messages: [] }), 'messages', VALUE],
  ['message is a number', msgs(1), 'messages[0]', TYPE],
  ['message is null', msgs(null), 'messages[0]', TYPE],
  ['message is an array', msgs([user]), 'messages[0]', TYPE],
  ['role missing', msgs({ content: 'x' }), 'messages[0].role', MISSING],
  ['role bot', msgs({ role: 'bot', content: 'x' }), 'messages[0].role', VALUE],
  ['role System (case)', msgs({ role: 'System', content: 'x' }), 'messages[0].role', VALUE],
  ['role empty', msgs({ role: '', content: 'x' }), 'messages[0].role', VALUE],
  ['role admin in second message', msgs(user, { role: 'admin', content: 'x' }), 'messages[1].role', VALUE],
  ['role is a number', msgs({ role: 7, content: 'x' }), 'messages[0].role', TYPE],
  ['role is null', msgs({ role: null, content: 'x' }), 'messages[0].role', TYPE],
  ['content is a number', msgs({ role: 'user', content: 42 }), 'messages[0].content', TYPE],
  ['content is an object', msgs({ role: 'user', content: { text: 'x' } }), 'messages[0].content', TYPE],
  ['content is a boolean', msgs({ role: 'user', content: true }), 'messages[0].content', TYPE],
  ['user content missing', msgs({ role: 'user' }), 'messages[0].content', MISSING],
  ['user content null', msgs({ role: 'user', content: null }), 'messages[0].content', TYPE],
  ['part type video', part({ type: 'video', video: 'x' }), 'messages[0].content[0].type', VALUE],
  ['part without type', part({ text: 'x' }), 'messages[0].content[0].type', MISSING],
  ['part is a string', part('hello'), 'messages[0].content[0]', TYPE],
  ['text part without text', part({ type: 'text' }), 'messages[0].content[0].text', MISSING],
  ['text part text is a number', part({ type: 'text', text: 5 }), 'messages[0].content[0].text', TYPE],
  ['image_url is a string', part({ type: 'image_url', image_url: 'https://x/y.png' }), 'messages[0].content[0].image_url', TYPE],
  ['image_url without url', part({ type: 'image_url', image_url: {} }), 'messages[0].content[0].image_url.url', MISSING],
  ['input_audio without format', part({ type: 'input_audio', input_audio: { data: 'AAAA' } }), 'messages[0].content[0].input_audio.format', MISSING],
  ['system message with an image', msgs({ role: 'system', content: [{ type: 'image_url', image_url: { url: 'https://x' } }] }, user), 'messages[0].content[0].type', VALUE],
  ['tool message without tool_call_id', msgs(user, { role: 'tool', content: 'x' }), 'messages[1].tool_call_id', MISSING],
  ['tool_call_id is a number', msgs(user, { role: 'tool', content: 'x', tool_call_id: 5 }), 'messages[1].tool_call_id', TYPE],
  ['assistant without content or tool_calls', msgs(user, { role: 'assistant' }), 'messages[1].content', MISSING],
  ['tool_calls is a string', msgs(user, { role: 'assistant', tool_calls: 'x' }), 'messages[1].tool_calls', TYPE],
  ['tool call arguments is an object', call({ function: { name: 'f', arguments: { city: 'Paris' } } }), 'messages[1].tool_calls[0].function.arguments', TYPE],
  ['tool call without id', call({ id: undefined }), 'messages[1].tool_calls[0].id', MISSING],
  ['tool call type funktion', call({ type: 'funktion' }), 'messages[1].tool_calls[0].type', VALUE],
  ['function message without name', msgs({ role: 'function', content: 'x' }), 'messages[0].name', MISSING],
  ['tools is an object', set(CHAT, { tools: { type: 'function' } }), 'tools', TYPE],
  ['tool is a number', tool(1), 'tools[0]', TYPE],
  ['tool without function', tool({ type: 'function' }), 'tools[0].function', MISSING],
  ['tool without type', tool({ function: { name: 'f' } }), 'tools[0].type', MISSING],
  ['tool type retrieval', tool({ type: 'retrieval' }), 'tools[0].type', VALUE],
  ['second tool name has a space', set(CHAT, { tools: [{ type: 'function', function: { name: 'ok' } }, { type: 'function', function: { name: 'bad name' } }] }), 'tools[1].function.name', VALUE],
  ['tool name of 65 characters', fn({ name: 'f'.repeat(65) }), 'tools[0].function.name', VALUE],
  ['tool name empty', fn({ name: '' }), 'tools[0].function.name', VALUE],
  ['tool name with a slash', fn({ name: '../etc/passwd' }), 'tools[0].function.name', VALUE],
  ['tool name missing', tool({ type: 'function', function: { description: 'x' } }), 'tools[0].function.name', MISSING],
  ['tool parameters is a string', fn({ parameters: 'object' }), 'tools[0].function.parameters', TYPE],
  ['tool_choice sometimes', set(CHAT, { tool_choice: 'sometimes' }), 'tool_choice', VALUE],
  ['tool_choice is a number', set(CHAT, { tool_choice: 5 }), 'tool_choice', TYPE],
  ['tool_choice function without function', set(CHAT, { tool_choice: { type: 'function' } }), 'tool_choice.function', MISSING],
  ['tool_choice function without name', set(CHAT, { tool_choice: { type: 'function', function: {} } }), 'tool_choice.function.name', MISSING],
  ['response_format is a string', set(CHAT, { response_format: 'json' }), 'response_format', TYPE],
  ['response_format type xml', set(CHAT, { response_format: { type: 'xml' } }), 'response_format.type', VALUE],
  ['json_schema missing', set(CHAT, { response_format: { type: 'json_schema' } }), 'response_format.json_schema', MISSING],
  ['json_schema without name', set(CHAT, { response_format: { type: 'json_schema', json_schema: { schema: {} } } }), 'response_format.json_schema.name', MISSING],
  ['json_schema name with a space', set(CHAT, { response_format: { type: 'json_schema', json_schema: { name: 'my schema' } } }), 'response_format.json_schema.name', VALUE],
  ['temperature 3', set(CHAT, { temperature: 3 }), 'temperature', VALUE],
  ['temperature -0.1', set(CHAT, { temperature: -0.1 }), 'temperature', VALUE],
  ['temperature is a string', set(CHAT, { temperature: '1' }), 'temperature', TYPE],
  ['top_p 1.5', set(CHAT, { top_p: 1.5 }), 'top_p', VALUE],
  ['top_p is an array', set(CHAT, { top_p: [] }), 'top_p', TYPE],
  ['n 0', set(CHAT, { n: 0 }), 'n', VALUE],
  ['n 1.5', set(CHAT, { n: 1.5 }), 'n', TYPE],
  ['n is a string', set(CHAT, { n: '2' }), 'n', TYPE],
  ['max_tokens 0', set(CHAT, { max_tokens: 0 }), 'max_tokens', VALUE],
  ['max_tokens -5', set(CHAT, { max_tokens: -5 }), 'max_tokens', VALUE],
  ['max_tokens is a string', set(CHAT, { max_tokens: '100' }), 'max_tokens', TYPE],
  ['max_completion_tokens 0', set(CHAT, { max_completion_tokens: 0 }), 'max_completion_tokens', VALUE],
  ['presence_penalty 2.5', set(CHAT, { presence_penalty: 2.5 }), 'presence_penalty', VALUE],
  ['frequency_penalty -3', set(CHAT, { frequency_penalty: -3 }), 'frequency_penalty', VALUE],
  ['stop is a number', set(CHAT, { stop: 5 }), 'stop', TYPE],
  ['stop holds a number', set(CHAT, { stop: [1] }), 'stop[0]', TYPE],
  ['stop has 5 entries', set(CHAT, { stop: ['a', 'b', 'c', 'd', 'e'] }), 'stop', VALUE],
  ['logit_bias is an array', set(CHAT, { logit_bias: [] }), 'logit_bias', TYPE],
  ['logit_bias key is not a token id', set(CHAT, { logit_bias: { abc: 1 } }), 'logit_bias', VALUE],
  ['logit_bias value 500', set(CHAT, { logit_bias: { '50256': 500 } }), 'logit_bias.50256', VALUE],
  ['logit_bias value is a string', set(CHAT, { logit_bias: { '1': 'x' } }), 'logit_bias.1', TYPE],
  ['seed 1.5', set(CHAT, { seed: 1.5 }), 'seed', TYPE],
  ['seed is a string', set(CHAT, { seed: 'x' }), 'seed', TYPE],
  ['user is a number', set(CHAT, { user: 5 }), 'user', TYPE],
  ['stream is a string', set(CHAT, { stream: 'true' }), 'stream', TYPE],
  ['stream is 1', set(CHAT, { stream: 1 }), 'stream', TYPE],
  ['stream_options is a string', set(CHAT, { stream: true, stream_options: 'yes' }), 'stream_options', TYPE],
  ['include_usage is a string', set(CHAT, { stream: true, stream_options: { include_usage: 'yes' } }), 'stream_options.include_usage', TYPE],
  ['parallel_tool_calls is a string', set(CHAT, { parallel_tool_calls: 'no' }), 'parallel_tool_calls', TYPE],
  ['top_logprobs 50', set(CHAT, { top_logprobs: 50 }), 'top_logprobs', VALUE],
  ['logprobs is a string', set(CHAT, { logprobs: 'yes' }), 'logprobs', TYPE],
  ['metadata is a string', set(CHAT, { metadata: 'x' }), 'metadata', TYPE],
  ['modalities is a string', set(CHAT, { modalities: 'text' }), 'modalities', TYPE],
  ['function name with a space', set(CHAT, { functions: [{ name: 'bad name' }] }), 'functions[0].name', VALUE],
  ['function_call always', set(CHAT, { function_call: 'always' }), 'function_call', VALUE],
];

const EMBEDDING_CASES: Mutation[] = [
  ['input missing', without(EMBED, 'input'), 'input', MISSING],
  ['input empty string', set(EMBED, { input: '' }), 'input', VALUE],
  ['input empty array', set(EMBED, { input: [] }), 'input', VALUE],
  ['input is a number', set(EMBED, { input: 5 }), 'input', TYPE],
  ['input is an object', set(EMBED, { input: { text: 'x' } }), 'input', TYPE],
  ['input holds an object', set(EMBED, { input: [{}] }), 'input[0]', TYPE],
  ['input holds an empty string', set(EMBED, { input: ['a', ''] }), 'input[1]', VALUE],
  ['input holds an empty array', set(EMBED, { input: [[]] }), 'input[0]', VALUE],
  ['token list holds a string', set(EMBED, { input: [[1, 'a']] }), 'input[0][1]', TYPE],
  ['token is a decimal', set(EMBED, { input: [1.5] }), 'input[0]', TYPE],
  ['encoding_format hex', set(EMBED, { encoding_format: 'hex' }), 'encoding_format', VALUE],
  ['dimensions 0', set(EMBED, { dimensions: 0 }), 'dimensions', VALUE],
  ['dimensions is a string', set(EMBED, { dimensions: '256' }), 'dimensions', TYPE],
  ['user is an array', set(EMBED, { user: [] }), 'user', TYPE],
  ['model is a number', set(EMBED, { model: 5 }), 'model', TYPE],
];

const COMPLETION_CASES: Mutation[] = [
  ['prompt missing', without(COMPLETION, 'prompt'), 'prompt', MISSING],
  ['prompt is a number', set(COMPLETION, { prompt: 5 }), 'prompt', TYPE],
  ['prompt is an object', set(COMPLETION, { prompt: {} }), 'prompt', TYPE],
  ['prompt holds an object', set(COMPLETION, { prompt: [{}] }), 'prompt[0]', TYPE],
  ['token list holds a string', set(COMPLETION, { prompt: [[1, 'a']] }), 'prompt[0][1]', TYPE],
  ['best_of 0', set(COMPLETION, { best_of: 0 }), 'best_of', VALUE],
  ['logprobs 10', set(COMPLETION, { logprobs: 10 }), 'logprobs', VALUE],
  ['echo is a string', set(COMPLETION, { echo: 'yes' }), 'echo', TYPE],
  ['temperature 9', set(COMPLETION, { temperature: 9 }), 'temperature', VALUE],
];

const RESPONSE_CASES: Mutation[] = [
  ['input is a number', set(RESPONSE, { input: 5 }), 'input', TYPE],
  ['input item is a number', set(RESPONSE, { input: [5] }), 'input[0]', TYPE],
  ['input item role bot', set(RESPONSE, { input: [{ role: 'bot', content: 'x' }] }), 'input[0].role', VALUE],
  ['input message without content', set(RESPONSE, { input: [{ role: 'user' }] }), 'input[0].content', MISSING],
  ['function_call_output without call_id', set(RESPONSE, { input: [{ type: 'function_call_output', output: 'x' }] }), 'input[0].call_id', MISSING],
  ['function tool name with a space', set(RESPONSE, { tools: [{ type: 'function', name: 'bad name' }] }), 'tools[0].name', VALUE],
  ['function tool without name', set(RESPONSE, { tools: [{ type: 'function' }] }), 'tools[0].name', MISSING],
  ['tool without type', set(RESPONSE, { tools: [{}] }), 'tools[0].type', MISSING],
  ['temperature 5', set(RESPONSE, { temperature: 5 }), 'temperature', VALUE],
  ['max_output_tokens 0', set(RESPONSE, { max_output_tokens: 0 }), 'max_output_tokens', VALUE],
  ['tool_choice never', set(RESPONSE, { tool_choice: 'never' }), 'tool_choice', VALUE],
  ['truncation sometimes', set(RESPONSE, { truncation: 'sometimes' }), 'truncation', VALUE],
];

/** The invalid bodies by endpoint, with the `param` and `code` of their 400 (also the unit tests' table). */
export const INVALID_BODIES: Record<'chat.completions' | 'embeddings' | 'completions' | 'responses', Mutation[]> = {
  'chat.completions': CHAT_CASES,
  embeddings: EMBEDDING_CASES,
  completions: COMPLETION_CASES,
  responses: RESPONSE_CASES,
};

/** Every URL form and key tier reaches the same validation. */
function prefixFor(i: number, k: CorpusKeys): [string, string] {
  const forms: [string, string][] = [
    ['/v1', k.client],
    ['', k.client],
    ['/v1/langchain', k.langchain],
  ];
  return forms[i % forms.length];
}

export const wrongTypes: Generator = (k) => {
  const table: [string, Mutation[]][] = [
    ['/chat/completions', CHAT_CASES],
    ['/embeddings', EMBEDDING_CASES],
    ['/completions', COMPLETION_CASES],
    ['/responses', RESPONSE_CASES],
  ];
  let i = 0;
  return table.flatMap(([endpoint, cases]) =>
    cases.map(([name, body, param, code]): HostileCase => {
      const [prefix, key] = prefixFor(i++, k);
      return { group: 'wrong types and values', name: `${prefix}${endpoint}: ${name}`, request: post(`${prefix}${endpoint}`, key, JSON.stringify(body)), status: 400, param, code };
    }),
  );
};

const nestObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
const nestArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

export const deepNesting: Generator = (k) => {
  const depths = [65, 200, 5000, 100000];
  const chat = (fragment: string) => `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],${fragment}}`;
  // Admin bodies over the admin API's 64 KiB limit are refused as too large before any parsing.
  const adminStatus = (d: number) => (nestObject(d).length > 64 * 1024 ? 413 : 400);
  const placements: [string, (d: number) => HostileCase['request'], number | ((d: number) => number)][] = [
    ['chat metadata objects', (d) => post('/v1/chat/completions', k.client, chat(`"metadata":${nestObject(d)}`)), 400],
    ['chat vendor field arrays', (d) => post('/v1/chat/completions', k.client, chat(`"vendor_extra":${nestArray(d)}`)), 400],
    ['message content arrays', (d) => post('/v1/chat/completions', k.client, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":${nestArray(d)}}]}`), 400],
    ['tool parameters', (d) => post('/v1/chat/completions', k.client, chat(`"tools":[{"type":"function","function":{"name":"f","parameters":${nestObject(d)}}}]`)), 400],
    ['embeddings input', (d) => post('/v1/embeddings', k.client, `{"model":"text-embedding-3-small","input":${nestArray(d)}}`), 400],
    ['unknown endpoint body', (d) => post('/v1/unknown', k.client, nestObject(d)), 404],
    ['admin key metadata', (d) => post('/v1/keys', k.admin, `{"user":"x","metadata":${nestObject(d)}}`), adminStatus],
    ['admin provider body', (d) => ({ method: 'PUT', path: '/v1/providers/deep', headers: json(k.admin), body: `{"type":"openai","base_url":"http://127.0.0.1:1/v1","headers":${nestObject(d)}}` }), adminStatus],
  ];
  return placements.flatMap(([name, make, status]) =>
    depths.map((d): HostileCase => ({ group: 'deep nesting', name: `${name}, ${d} levels`, request: make(d), status: typeof status === 'number' ? status : status(d) })),
  );
};

export const hugeStrings: Generator = (k) => {
  const big = (n: number) => 'x'.repeat(n);
  const chat = (extra: Record<string, unknown>) => post('/v1/chat/completions', k.client, JSON.stringify({ ...CHAT, ...extra }));
  return [
    { name: 'body over the size limit', request: chat({ messages: [{ role: 'user', content: big(1_200_000) }] }), status: 413 },
    { name: 'model of 100 KB', request: chat({ model: big(100_000) }), status: 400, param: 'model' },
    { name: 'role of 100 KB', request: chat({ messages: [{ role: big(100_000), content: 'x' }] }), status: 400, param: 'messages[0].role' },
    { name: 'tool name of 10 KB', request: chat({ tools: [{ type: 'function', function: { name: big(10_000) } }] }), status: 400, param: 'tools[0].function.name' },
    { name: 'valid 900 KB content with a bad temperature', request: chat({ messages: [{ role: 'user', content: big(900_000) }], temperature: 'hot' }), status: 400, param: 'temperature' },
    { name: '5 stop strings of 100 KB', request: chat({ stop: Array.from({ length: 5 }, () => big(100_000)) }), status: 400, param: 'stop' },
    { name: 'key of 100 KB with bad messages', request: chat({ [big(100_000)]: 1, messages: 'x' }), status: 400, param: 'messages' },
    { name: 'embeddings input of 900 KB with dimensions 0', request: post('/v1/embeddings', k.client, JSON.stringify({ ...EMBED, input: big(900_000), dimensions: 0 })), status: 400, param: 'dimensions' },
    { name: 'header value of 70 KB', request: { method: 'POST', path: '/v1/chat/completions', headers: json(k.client, { 'x-big': big(70_000) }), body: '{}' }, status: 431 },
    { name: 'header value of 100 KB', request: { path: '/v1/models', headers: { 'x-big': big(100_000) } }, status: 431 },
    { name: 'path of 70 KB', request: { path: `/v1/${big(70_000)}`, headers: json(k.client) }, status: 431 },
    { name: 'query of 70 KB', request: { path: `/v1/chat/completions?q=${big(70_000)}`, headers: json(k.client), body: '{}' }, status: 431 },
    { name: 'admin query of 70 KB', request: { path: `/v1/usage?group_by=${big(70_000)}`, headers: json(k.admin) }, status: 431 },
    { name: '200 headers', request: { path: '/v1/models', headers: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-h${i}`, 'v'])) }, status: 431 },
    { name: 'bearer token of 50 KB', request: { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json', authorization: `Bearer sk-${big(50_000)}` }, body: JSON.stringify(CHAT) }, status: 401 },
    { name: 'x-api-key of 30 KB on the admin API', request: { path: '/v1/keys', headers: { 'x-api-key': big(30_000) } }, status: 401 },
  ].map((c) => ({ group: 'huge strings', ...c }));
};

/** Malformed UTF-8: stray continuation bytes, truncated and overlong sequences, surrogates, > U+10FFFF. */
const BAD_UTF8: [string, number[]][] = [
  ['0xff', [0xff]],
  ['0xfe', [0xfe]],
  ['bad continuation', [0xc3, 0x28]],
  ['stray continuation bytes', [0xa0, 0xa1]],
  ['bad 3-byte second byte', [0xe2, 0x28, 0xa1]],
  ['bad 3-byte third byte', [0xe2, 0x82, 0x28]],
  ['bad 4-byte second byte', [0xf0, 0x28, 0x8c, 0xbc]],
  ['bad 4-byte third byte', [0xf0, 0x90, 0x28, 0xbc]],
  ['overlong slash', [0xc0, 0xaf]],
  ['overlong 3-byte slash', [0xe0, 0x80, 0xaf]],
  ['UTF-16 surrogate', [0xed, 0xa0, 0x80]],
  ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ['truncated sequence', [0xe2, 0x82]],
];

export const invalidUtf8: Generator = (k) => {
  const inString = (prefix: string, bytes: number[], suffix: string) => Buffer.concat([Buffer.from(prefix), Buffer.from(bytes), Buffer.from(suffix)]);
  return BAD_UTF8.flatMap(([name, bytes]): HostileCase[] => [
    {
      group: 'invalid UTF-8',
      name: `chat content: ${name}`,
      request: post('/v1/chat/completions', k.client, inString('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi ', bytes, '"}]}')),
      status: 400,
      code: 'invalid_encoding',
    },
    {
      group: 'invalid UTF-8',
      name: `embeddings input: ${name}`,
      request: post('/v1/embeddings', k.client, inString('{"model":"text-embedding-3-small","input":"', bytes, '"}')),
      status: 400,
      code: 'invalid_encoding',
    },
    {
      group: 'invalid UTF-8',
      name: `admin key body: ${name}`,
      request: post('/v1/keys', k.admin, inString('{"user":"', bytes, '"}')),
      status: 400,
    },
    {
      group: 'invalid UTF-8',
      name: `authorization header: ${name}`,
      request: { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json', authorization: Buffer.concat([Buffer.from('Bearer sk-'), Buffer.from(bytes)]) }, body: JSON.stringify(CHAT) },
      status: 401,
    },
    {
      group: 'invalid UTF-8',
      name: `percent-encoded in a model id: ${name}`,
      request: { path: `/v1/models/${bytes.map((b) => `%${b.toString(16)}`).join('')}`, headers: json(k.client) },
      status: 404,
    },
  ]);
};
