import { GatewayError, type JsonObject, type JsonValue } from '../../domain';

/**
 * Request bodies of the earlier .NET gateway's API → OpenAI bodies.
 *
 * That API's exact DTOs are not available, so both shapes its clients are likely to send are
 * taken: the OpenAI body itself, and the common .NET DTO in camelCase (System.Text.Json's web
 * defaults), e.g. `{"modelId": "openai.gpt-4o", "prompt": "Hi", "systemPrompt": "Be brief.",
 * "maxTokens": 100, "topP": 0.9, "stopSequences": ["END"], "userId": "u1"}`. A field may come
 * under either name (never both with different values); `null` means absent, as System.Text.Json
 * writes unset properties. Fields this table does not know pass through unchanged for the
 * request-validation plugin, which checks the OpenAI body that results. Errors name the field
 * as the client spelt it.
 */

type Check = (value: JsonValue, name: string) => JsonValue;

interface Field {
  /** The OpenAI name, which the translated body carries. */
  to: string;
  /** Every name the client may use (the OpenAI one included). */
  from: readonly string[];
  check: Check;
}

const invalidType = (param: string, expected: string) =>
  new GatewayError(400, 'invalid_type', `Invalid type for '${param}': expected ${expected}.`, { param });
const invalidValue = (param: string, message: string) => new GatewayError(400, 'invalid_value', message, { param });
const missing = (param: string, message: string) => new GatewayError(400, 'missing_required_parameter', message, { param });

const string: Check = (v, name) => {
  if (typeof v !== 'string') throw invalidType(name, 'a string');
  return v;
};

const nonEmptyString: Check = (v, name) => {
  if (string(v, name) === '') throw invalidValue(name, `Invalid value for '${name}': it must not be empty.`);
  return v;
};

const numberIn =
  (min: number, max: number): Check =>
  (v, name) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidType(name, 'a number');
    if (v < min || v > max) throw invalidValue(name, `Invalid value for '${name}': expected a number from ${min} to ${max}.`);
    return v;
  };

const positiveInteger: Check = (v, name) => {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidType(name, 'an integer');
  if (v < 1) throw invalidValue(name, `Invalid value for '${name}': expected an integer of at least 1.`);
  return v;
};

const stopSequences: Check = (v, name) => {
  if (typeof v === 'string') return v;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw invalidType(name, 'a string or an array of strings');
  if (v.length > 4) throw invalidValue(name, `Invalid value for '${name}': at most 4 stop sequences are allowed.`);
  return v;
};

const strings: Check = (v, name) => {
  if (!Array.isArray(v) || v.length === 0 || v.some((s) => typeof s !== 'string')) throw invalidType(name, 'a non-empty array of strings');
  return v;
};

/** `input` is OpenAI's (strings or token lists, checked by request-validation); `text` and `texts` the DTO's. */
const embeddingInput: Check = (v, name) => (name === 'text' ? nonEmptyString(v, name) : name === 'texts' ? strings(v, name) : v);

const MODEL: Field = { to: 'model', from: ['model', 'modelId'], check: nonEmptyString };
const USER: Field = { to: 'user', from: ['user', 'userId'], check: string };

/** Chat fields under their OpenAI and camelCase names. */
export const CHAT_FIELDS: readonly Field[] = [
  MODEL,
  { to: 'max_tokens', from: ['max_tokens', 'maxTokens'], check: positiveInteger },
  { to: 'temperature', from: ['temperature'], check: numberIn(0, 2) },
  { to: 'top_p', from: ['top_p', 'topP'], check: numberIn(0, 1) },
  { to: 'stop', from: ['stop', 'stopSequences'], check: stopSequences },
  { to: 'frequency_penalty', from: ['frequency_penalty', 'frequencyPenalty'], check: numberIn(-2, 2) },
  { to: 'presence_penalty', from: ['presence_penalty', 'presencePenalty'], check: numberIn(-2, 2) },
  USER,
];

/** Embedding fields under their OpenAI and DTO names. */
export const EMBEDDING_FIELDS: readonly Field[] = [
  MODEL,
  { to: 'input', from: ['input', 'text', 'texts'], check: embeddingInput },
  { to: 'encoding_format', from: ['encoding_format', 'encodingFormat'], check: string },
  { to: 'dimensions', from: ['dimensions'], check: positiveInteger },
  USER,
];

/** The prompt fields of the DTO shape, turned into messages. */
const PROMPT_FIELDS = ['prompt', 'systemPrompt', 'system'] as const;

const given = (body: JsonObject, name: string): boolean => Object.hasOwn(body, name) && body[name] !== null;

/** Same JSON value (key order aside, as it comes from one serializer). */
const same = (a: JsonValue, b: JsonValue): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * The field's value under whichever of its names the client used (checked), or undefined.
 * `text: "a"` with `input: "a"` is one value; with different values it is ambiguous: a 400.
 */
function read(body: JsonObject, field: Field): JsonValue | undefined {
  let first: string | undefined;
  let value: JsonValue | undefined;
  for (const name of field.from) {
    if (!given(body, name)) continue;
    const v = field.check(body[name], name);
    if (first === undefined) {
      first = name;
      value = v;
    } else if (!same(value!, v)) {
      throw invalidValue(name, `'${name}' and '${first}' are the same field with different values; send one of them.`);
    }
  }
  return value;
}

/** The body without the names of `fields` (and the DTO's prompt fields), then their OpenAI values. */
function rebuild(body: JsonObject, fields: readonly Field[], extraNames: readonly string[] = []): JsonObject {
  const names = new Set([...fields.flatMap((f) => f.from), ...extraNames]);
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(body)) if (!names.has(k)) out[k] = v;
  for (const field of fields) {
    const v = read(body, field);
    if (v !== undefined) out[field.to] = v;
  }
  return out;
}

function requireModel(out: JsonObject): void {
  if (out.model === undefined) throw missing('model', "You must provide a model: 'model' or 'modelId' (e.g. 'openai.gpt-4o').");
}

/**
 * `messages` as sent (roles lower-cased: a .NET enum may serialise as `User`), or built from
 * `prompt`: an optional system message (`systemPrompt` or `system`) then the prompt as the user's.
 */
function messagesOf(body: JsonObject): JsonValue[] {
  const system = read(body, { to: 'system', from: ['systemPrompt', 'system'], check: string }) as string | undefined;
  const prelude: JsonValue[] = system === undefined ? [] : [{ role: 'system', content: system }];
  if (given(body, 'messages')) {
    if (given(body, 'prompt')) throw invalidValue('prompt', "Send either 'messages' or 'prompt', not both.");
    const messages = body.messages;
    if (!Array.isArray(messages)) throw invalidType('messages', 'an array of messages');
    if (messages.length === 0) throw invalidValue('messages', "Invalid value for 'messages': it must not be empty.");
    const normalised = messages.map((m) =>
      m && typeof m === 'object' && !Array.isArray(m) && typeof m.role === 'string' && m.role !== m.role.toLowerCase() ? { ...m, role: m.role.toLowerCase() } : m,
    );
    return [...prelude, ...normalised];
  }
  if (!given(body, 'prompt')) throw missing('messages', "You must provide 'messages' (OpenAI's shape) or 'prompt' (a string).");
  const prompt = nonEmptyString(body.prompt, 'prompt') as string;
  return [...prelude, { role: 'user', content: prompt }];
}

/** A completion request (either shape) → an OpenAI chat completion body; `stream` forced for the stream endpoint. */
export function chatRequest(body: JsonObject, streamed: boolean): JsonObject {
  const out = rebuild(body, CHAT_FIELDS, [...PROMPT_FIELDS, 'messages', 'stream']);
  requireModel(out);
  out.messages = messagesOf(body);
  if (streamed) out.stream = true;
  else if (given(body, 'stream')) {
    // An OpenAI-shaped client may ask /completion for a stream; anything but a boolean is refused.
    if (typeof body.stream !== 'boolean') throw invalidType('stream', 'a boolean');
    out.stream = body.stream;
  }
  return out;
}

/** An embedding request (either shape) → an OpenAI embeddings body. */
export function embeddingRequest(body: JsonObject): JsonObject {
  const out = rebuild(body, EMBEDDING_FIELDS);
  requireModel(out);
  if (out.input === undefined) throw missing('input', "You must provide the text to embed: 'input', 'text' or 'texts'.");
  return out;
}
