/**
 * JSON Schemas for the OpenAI request bodies the gateway accepts (chat completions, legacy
 * completions, embeddings, responses), used by the request-validation plugin.
 *
 * They follow OpenAI's published API where it is strict (types, enums, ranges, required fields)
 * and stay open everywhere else: no `additionalProperties: false`, so vendor extensions
 * (`top_k`, `repetition_penalty`, `cache_control` on parts, ...) pass through untouched.
 * Optional fields also accept `null`, which OpenAI treats as "not given".
 *
 * Order matters: with Ajv's first-error mode the first failing keyword is what the client is
 * told about, so `properties` are listed in the order their errors should be reported.
 * Unions of shapes are written with a `discriminator` (role, type) or `if`/`then` rather than
 * `anyOf`, so that the reported error comes from the branch the client meant.
 */

export type Schema = Record<string, unknown>;

export interface SchemaOptions {
  /** Upper bound on `messages` (chat completions). */
  maxMessages: number;
  /** Content part `type`s accepted besides OpenAI's own (e.g. vLLM's `video_url`). */
  extraContentPartTypes: readonly string[];
}

/** OpenAI's rule for function, tool and JSON schema names. */
export const NAME_PATTERN = '^[a-zA-Z0-9_-]{1,64}$';

const STRING = { type: 'string' };
const OPT_STRING = { type: ['string', 'null'] };
const OPT_BOOLEAN = { type: ['boolean', 'null'] };
const OPT_OBJECT = { type: ['object', 'null'] };
const OPT_STRINGS = { type: ['array', 'null'], items: STRING };
/** Model ids are short; a cap keeps a megabyte "model" out of logs and error messages. */
const MODEL = { type: 'string', minLength: 1, maxLength: 256 };

const range = (type: 'number' | 'integer', minimum?: number, maximum?: number): Schema => ({
  type: [type, 'null'],
  ...(minimum === undefined ? {} : { minimum }),
  ...(maximum === undefined ? {} : { maximum }),
});

const object = (required: string[], properties: Record<string, Schema>): Schema => ({ type: 'object', required, properties });

/** A union of object shapes told apart by the string property `tag`. */
const tagged = (tag: string, branches: Schema[], nullable = false): Schema => ({
  type: nullable ? ['object', 'null'] : 'object',
  required: [tag],
  discriminator: { propertyName: tag },
  oneOf: branches,
});

/** One branch of a tagged union: `tag` is `value` (or one of `value`), plus more properties. */
const variant = (tag: string, value: string | readonly string[], required: string[] = [], properties: Record<string, Schema> = {}): Schema =>
  object([tag, ...required], { [tag]: typeof value === 'string' ? { const: value } : { enum: [...value] }, ...properties });

// ---- content parts -------------------------------------------------------------------------

const TEXT_PART = variant('type', 'text', ['text'], { text: STRING });
const REFUSAL_PART = variant('type', 'refusal', ['refusal'], { refusal: STRING });
const IMAGE_PART = variant('type', 'image_url', ['image_url'], {
  image_url: object(['url'], { url: STRING, detail: STRING }),
});
const AUDIO_PART = variant('type', 'input_audio', ['input_audio'], {
  input_audio: object(['data', 'format'], { data: STRING, format: STRING }),
});
const FILE_PART = variant('type', 'file', ['file'], {
  file: object([], { file_data: STRING, file_id: STRING, filename: STRING }),
});

/** `content`: a string, or a list of typed parts of the given kinds. */
function content(parts: Schema[], extraTypes: readonly string[], nullable = false): Schema {
  const branches = extraTypes.length ? [...parts, variant('type', extraTypes)] : parts;
  return { type: nullable ? ['string', 'array', 'null'] : ['string', 'array'], items: tagged('type', branches) };
}

// ---- tools -----------------------------------------------------------------------------------

const FUNCTION_DEFINITION = object(['name'], {
  name: { type: 'string', pattern: NAME_PATTERN },
  description: STRING,
  parameters: { type: 'object' },
  strict: OPT_BOOLEAN,
});

const TOOLS = {
  type: ['array', 'null'],
  items: tagged('type', [
    variant('type', 'function', ['function'], { function: FUNCTION_DEFINITION }),
    variant('type', 'custom', ['custom'], { custom: object(['name'], { name: { type: 'string', pattern: NAME_PATTERN }, description: STRING }) }),
  ]),
};

const TOOL_CALLS = {
  type: ['array', 'null'],
  items: tagged('type', [
    variant('type', 'function', ['id', 'function'], { id: STRING, function: object(['name', 'arguments'], { name: STRING, arguments: STRING }) }),
    variant('type', 'custom', ['id', 'custom'], { id: STRING, custom: object(['name', 'input'], { name: STRING, input: STRING }) }),
  ]),
};

/** `"none" | "auto" | "required"` or an object naming the tool(s). */
const TOOL_CHOICE = {
  type: ['string', 'object', 'null'],
  if: { type: 'string' },
  then: { enum: ['none', 'auto', 'required'] },
  else: tagged(
    'type',
    [
      variant('type', 'function', ['function'], { function: object(['name'], { name: STRING }) }),
      variant('type', 'custom', ['custom'], { custom: object(['name'], { name: STRING }) }),
      variant('type', 'allowed_tools', ['allowed_tools'], { allowed_tools: object(['mode', 'tools'], { mode: STRING, tools: { type: 'array' } }) }),
    ],
    true,
  ),
};

const RESPONSE_FORMAT = tagged(
  'type',
  [
    variant('type', 'text'),
    variant('type', 'json_object'),
    variant('type', 'json_schema', ['json_schema'], {
      json_schema: object(['name'], { name: { type: 'string', pattern: NAME_PATTERN }, description: STRING, schema: { type: 'object' }, strict: OPT_BOOLEAN }),
    }),
  ],
  true,
);

// ---- sampling parameters shared by chat and legacy completions ----------------------------------

const SAMPLING: Record<string, Schema> = {
  stream: OPT_BOOLEAN,
  stream_options: { type: ['object', 'null'], properties: { include_usage: OPT_BOOLEAN, include_obfuscation: OPT_BOOLEAN } },
  temperature: range('number', 0, 2),
  top_p: range('number', 0, 1),
  n: range('integer', 1),
  max_tokens: range('integer', 1),
  presence_penalty: range('number', -2, 2),
  frequency_penalty: range('number', -2, 2),
  stop: { type: ['string', 'array', 'null'], maxItems: 4, items: STRING },
  logit_bias: { type: ['object', 'null'], propertyNames: { pattern: '^[0-9]+$' }, additionalProperties: { type: 'number', minimum: -100, maximum: 100 } },
  seed: range('integer'),
  user: OPT_STRING,
};

// ---- chat completions --------------------------------------------------------------------------

function messageSchema(extra: readonly string[]): Schema {
  const name = STRING;
  return tagged('role', [
    variant('role', 'system', ['content'], { content: content([TEXT_PART], extra), name }),
    variant('role', 'developer', ['content'], { content: content([TEXT_PART], extra), name }),
    variant('role', 'user', ['content'], { content: content([TEXT_PART, IMAGE_PART, AUDIO_PART, FILE_PART], extra), name }),
    {
      ...variant('role', 'assistant', [], {
        content: content([TEXT_PART, REFUSAL_PART], extra, true),
        refusal: OPT_STRING,
        name,
        tool_calls: TOOL_CALLS,
        function_call: { type: ['object', 'null'], required: ['name', 'arguments'], properties: { name: STRING, arguments: STRING } },
        audio: { type: ['object', 'null'], required: ['id'], properties: { id: STRING } },
      }),
      // `content` may only be left out when the message calls tools (first branch reports it).
      anyOf: [{ required: ['content'] }, { required: ['tool_calls'] }, { required: ['function_call'] }],
    },
    variant('role', 'tool', ['content', 'tool_call_id'], { content: content([TEXT_PART], extra), tool_call_id: STRING }),
    variant('role', 'function', ['name', 'content'], { name: STRING, content: OPT_STRING }),
  ]);
}

export function chatCompletionsSchema(opts: SchemaOptions): Schema {
  return object(['model', 'messages'], {
    model: MODEL,
    messages: { type: 'array', minItems: 1, maxItems: opts.maxMessages, items: messageSchema(opts.extraContentPartTypes) },
    tools: TOOLS,
    tool_choice: TOOL_CHOICE,
    parallel_tool_calls: OPT_BOOLEAN,
    functions: { type: ['array', 'null'], items: FUNCTION_DEFINITION },
    function_call: {
      type: ['string', 'object', 'null'],
      if: { type: 'string' },
      then: { enum: ['none', 'auto'] },
      else: { type: ['object', 'null'], required: ['name'], properties: { name: STRING } },
    },
    response_format: RESPONSE_FORMAT,
    ...SAMPLING,
    max_completion_tokens: range('integer', 1),
    logprobs: OPT_BOOLEAN,
    top_logprobs: range('integer', 0, 20),
    modalities: OPT_STRINGS,
    audio: OPT_OBJECT,
    prediction: OPT_OBJECT,
    metadata: OPT_OBJECT,
    store: OPT_BOOLEAN,
    reasoning_effort: OPT_STRING,
    verbosity: OPT_STRING,
    service_tier: OPT_STRING,
    web_search_options: OPT_OBJECT,
    prompt_cache_key: OPT_STRING,
    safety_identifier: OPT_STRING,
  });
}

// ---- legacy completions ------------------------------------------------------------------------

/** A string, strings, token ids, or lists of token ids. */
const PROMPT = {
  type: ['string', 'array'],
  items: { type: ['string', 'integer', 'array'], items: { type: 'integer' } },
};

export function completionsSchema(): Schema {
  return object(['model', 'prompt'], {
    model: MODEL,
    prompt: PROMPT,
    ...SAMPLING,
    best_of: range('integer', 1),
    echo: OPT_BOOLEAN,
    logprobs: range('integer', 0, 5),
    suffix: OPT_STRING,
  });
}

// ---- embeddings --------------------------------------------------------------------------------

export function embeddingsSchema(): Schema {
  return object(['model', 'input'], {
    model: MODEL,
    // OpenAI refuses empty strings and empty lists anywhere in `input`.
    input: {
      type: ['string', 'array'],
      minLength: 1,
      minItems: 1,
      items: { type: ['string', 'integer', 'array'], minLength: 1, minItems: 1, items: { type: 'integer' } },
    },
    encoding_format: { type: ['string', 'null'], enum: ['float', 'base64', null] },
    dimensions: range('integer', 1),
    user: OPT_STRING,
  });
}

// ---- responses ---------------------------------------------------------------------------------

/** Input items: messages (by `role`) and typed items; only the shapes clients commonly get wrong are checked. */
const RESPONSE_INPUT_ITEM = {
  type: 'object',
  allOf: [
    {
      if: { required: ['role'] },
      then: object(['content'], { role: { enum: ['user', 'assistant', 'system', 'developer'] }, content: { type: ['string', 'array'], items: { type: 'object', required: ['type'], properties: { type: STRING } } } }),
    },
    {
      if: { required: ['type'], properties: { type: { const: 'function_call_output' } } },
      then: object(['call_id', 'output'], { call_id: STRING, output: { type: ['string', 'array'] } }),
    },
    {
      if: { required: ['type'], properties: { type: { const: 'function_call' } } },
      then: object(['call_id', 'name', 'arguments'], { call_id: STRING, name: STRING, arguments: STRING }),
    },
  ],
};

const RESPONSE_TOOL = {
  type: 'object',
  required: ['type'],
  properties: { type: STRING },
  // Function tools are flat here: `{type: "function", name, parameters}`.
  if: { required: ['type'], properties: { type: { const: 'function' } } },
  then: object(['name'], { name: { type: 'string', pattern: NAME_PATTERN }, description: OPT_STRING, parameters: OPT_OBJECT, strict: OPT_BOOLEAN }),
};

export function responsesSchema(): Schema {
  return object(['model'], {
    model: MODEL,
    input: { type: ['string', 'array'], items: RESPONSE_INPUT_ITEM },
    instructions: { type: ['string', 'array', 'null'] },
    tools: { type: ['array', 'null'], items: RESPONSE_TOOL },
    tool_choice: {
      type: ['string', 'object', 'null'],
      if: { type: 'string' },
      then: { enum: ['none', 'auto', 'required'] },
      else: { type: ['object', 'null'], required: ['type'], properties: { type: STRING } },
    },
    parallel_tool_calls: OPT_BOOLEAN,
    stream: OPT_BOOLEAN,
    stream_options: OPT_OBJECT,
    temperature: range('number', 0, 2),
    top_p: range('number', 0, 1),
    max_output_tokens: range('integer', 1),
    max_tool_calls: range('integer', 1),
    top_logprobs: range('integer', 0, 20),
    previous_response_id: OPT_STRING,
    conversation: { type: ['string', 'object', 'null'] },
    text: OPT_OBJECT,
    reasoning: OPT_OBJECT,
    truncation: { type: ['string', 'null'], enum: ['auto', 'disabled', null] },
    include: OPT_STRINGS,
    metadata: OPT_OBJECT,
    store: OPT_BOOLEAN,
    background: OPT_BOOLEAN,
    service_tier: OPT_STRING,
    user: OPT_STRING,
    prompt: OPT_OBJECT,
    prompt_cache_key: OPT_STRING,
    safety_identifier: OPT_STRING,
  });
}
