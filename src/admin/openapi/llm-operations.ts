import { chatCompletionsSchema, completionsSchema, embeddingsSchema, responsesSchema } from '../../../plugins/request-validation/openai-schemas';
import { error, RETRY_AFTER, type ResponseDef } from './admin-operations';
import { closed, ref, type Schema } from './schemas';

/**
 * The OpenAI-compatible endpoints, under `/v1` and under `/v1/langchain` (LangChain keys only).
 * The request schemas are those the request-validation plugin checks bodies with (OpenAI's
 * published API where it is strict, open to vendor fields); the answers are the provider's,
 * translated to OpenAI's shapes, so their schemas name the fields OpenAI clients rely on and
 * leave room for more.
 */

export const LLM_PREFIXES = [
  { prefix: '/v1', tag: 'OpenAI-compatible', idPrefix: '' },
  { prefix: '/v1/langchain', tag: 'LangChain', idPrefix: 'langchain' },
] as const;

export interface LlmOperation {
  method: 'GET' | 'POST';
  /** After the prefix, as OpenAI spells it. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  params?: Record<string, string>;
  query?: { name: string; description: string; schema: Schema }[];
  body?: Schema;
  /** Whether `stream: true` answers with server-sent events. */
  streams?: boolean;
  /** Those events, when not OpenAI's chunks. */
  eventStream?: Schema;
  ok: ResponseDef;
  errors: Record<number, ResponseDef>;
}

const INTEGER = { type: 'integer' };
const STRING = { type: 'string' };
const OPT_STRING = { type: ['string', 'null'] };
/** A model as model-router describes it (GET /v1/models/{id}). */
const MODEL_FIELDS: Record<string, Schema> = {
  id: STRING,
  object: { const: 'model' },
  created: INTEGER,
  owned_by: { type: 'string', description: 'The provider serving the model.' },
  provider: STRING,
  display_name: STRING,
  context_window: INTEGER,
};

const USAGE: Schema = {
  type: 'object',
  required: ['prompt_tokens', 'total_tokens'],
  properties: { prompt_tokens: INTEGER, completion_tokens: INTEGER, total_tokens: INTEGER, prompt_tokens_details: { type: 'object' }, completion_tokens_details: { type: 'object' } },
};

/** A (chat or legacy) completion: `object` is `kind`, each of its choices is a `choice`. */
function completionAnswer(kind: string, choice: Schema): Schema {
  return {
    type: 'object',
    required: ['id', 'object', 'created', 'model', 'choices'],
    properties: { id: STRING, object: { const: kind }, created: INTEGER, model: STRING, choices: { type: 'array', items: choice }, usage: ref('Usage') },
  };
}

/**
 * A validation schema without its `discriminator` hints: the validator uses them to report the
 * error of the branch a client meant, but in OpenAPI a discriminator only selects named
 * (`$ref`) schemas, and these branches are inline. What the schema accepts is unchanged.
 */
function withoutDiscriminators(schema: unknown): Schema {
  return JSON.parse(JSON.stringify(schema), (key, value) => (key === 'discriminator' ? undefined : value)) as Schema;
}

/** The requests' and answers' schemas (components). */
export function llmSchemas(): Record<string, Schema> {
  return {
    ChatCompletionRequest: withoutDiscriminators(chatCompletionsSchema({ maxMessages: 10000, extraContentPartTypes: [] })),
    CompletionRequest: withoutDiscriminators(completionsSchema()),
    EmbeddingRequest: withoutDiscriminators(embeddingsSchema()),
    ResponseRequest: withoutDiscriminators(responsesSchema()),
    Usage: USAGE,
    ChatCompletion: completionAnswer('chat.completion', {
      type: 'object',
      required: ['index', 'message', 'finish_reason'],
      properties: {
        index: INTEGER,
        message: {
          type: 'object',
          required: ['role'],
          properties: { role: { const: 'assistant' }, content: OPT_STRING, refusal: OPT_STRING, tool_calls: { type: 'array', items: { type: 'object' } } },
        },
        logprobs: { type: ['object', 'null'] },
        finish_reason: { type: ['string', 'null'], examples: ['stop', 'length', 'tool_calls', 'content_filter'] },
      },
    }),
    Completion: completionAnswer('text_completion', { type: 'object', required: ['index', 'text'], properties: { index: INTEGER, text: STRING, finish_reason: OPT_STRING } }),
    EmbeddingList: {
      type: 'object',
      required: ['object', 'data', 'model'],
      properties: {
        object: { const: 'list' },
        data: {
          type: 'array',
          items: {
            type: 'object',
            required: ['object', 'index', 'embedding'],
            properties: {
              object: { const: 'embedding' },
              index: INTEGER,
              embedding: { type: ['array', 'string'], items: { type: 'number' }, description: 'Numbers, or base64 with `encoding_format: base64`.' },
            },
          },
        },
        model: STRING,
        usage: ref('Usage'),
      },
    },
    Response: {
      type: 'object',
      required: ['id', 'object', 'model', 'output'],
      properties: { id: STRING, object: { const: 'response' }, created_at: { type: 'number' }, status: STRING, model: STRING, output: { type: 'array', items: { type: 'object' } }, usage: { type: 'object' } },
    },
    // Answered by the gateway itself (the model-router plugin), not by a provider.
    Model: closed(MODEL_FIELDS, ['display_name', 'context_window']),
    ModelList: closed({ object: { const: 'list' }, data: { type: 'array', items: ref('Model') } }),
  };
}

export const EVENT_STREAM = {
  type: 'string',
  description: 'Server-sent events: `data: {chunk}` lines (chat.completion.chunk objects for chat), ending with `data: [DONE]`.',
};

/** Errors any LLM request may get, besides its own. */
export const LLM_ERRORS: Record<number, ResponseDef> = {
  400: error(
    ['invalid_json', 'missing_body', 'missing_required_parameter', 'invalid_type', 'invalid_value', 'unsupported_parameter', 'unsupported_endpoint', 'content_filtered'],
    'The request is invalid; `param` names the field',
  ),
  401: error(['missing_api_key', 'invalid_api_key', 'revoked_api_key', 'expired_api_key'], 'No API key, or an unusable one'),
  403: error(['model_not_allowed', 'provider_not_allowed', 'insufficient_permissions', 'invalid_key_tier', 'identity_not_allowed'], 'The caller may not make this request'),
  404: error(['model_not_found', 'unknown_url'], 'No such model (or the caller may not see it)'),
  413: error(['request_too_large'], 'The request body is larger than the gateway accepts'),
  429: { ...error(['rate_limit_exceeded', 'insufficient_quota'], 'A rate limit or quota refused the request'), headers: RETRY_AFTER },
  500: error(['internal_error', 'plugin_error', 'plugin_timeout'], 'The gateway failed'),
  502: error(['upstream_error'], 'The provider could not be reached or answered with an error that is not JSON'),
  503: error(['provider_not_configured', 'key_store_unavailable', 'service_unavailable'], 'The provider or a store is unavailable'),
  504: error(['timeout'], 'The provider did not answer in time'),
};

/** What a GET on the model lists can answer besides success. */
const READ_ERRORS: Record<number, ResponseDef> = { 401: LLM_ERRORS[401], 403: LLM_ERRORS[403], 500: LLM_ERRORS[500], 503: LLM_ERRORS[503] };
const MODEL_READ_ERRORS: Record<number, ResponseDef> = { ...READ_ERRORS, 404: error(['model_not_found'], 'No such model, or the caller may not use it') };

const generate = (ok: ResponseDef, body: Schema, summary: string, operationId: string, path: string): LlmOperation => ({
  method: 'POST',
  path,
  operationId,
  summary,
  body,
  streams: path !== '/embeddings',
  ok,
  errors: LLM_ERRORS,
});

export const LLM_OPERATIONS: LlmOperation[] = [
  generate({ description: 'The completion.', schema: ref('ChatCompletion') }, ref('ChatCompletionRequest'), 'Create a chat completion', 'createChatCompletion', '/chat/completions'),
  generate({ description: 'The completion.', schema: ref('Completion') }, ref('CompletionRequest'), 'Create a completion (legacy)', 'createCompletion', '/completions'),
  generate({ description: 'The embeddings.', schema: ref('EmbeddingList') }, ref('EmbeddingRequest'), 'Create embeddings', 'createEmbedding', '/embeddings'),
  generate({ description: 'The response.', schema: ref('Response') }, ref('ResponseRequest'), 'Create a response (Responses API)', 'createResponse', '/responses'),
  {
    method: 'GET',
    path: '/models',
    operationId: 'listModels',
    summary: 'List the models the caller may use',
    query: [{ name: 'provider', description: 'Only the models of this provider.', schema: STRING }],
    ok: { description: 'The models.', schema: ref('ModelList') },
    errors: READ_ERRORS,
  },
  {
    method: 'GET',
    path: '/models/{model}',
    operationId: 'getModel',
    summary: 'Describe a model',
    params: { model: 'The model id (URL-encoded; it may contain `/`).' },
    ok: { description: 'The model.', schema: ref('Model') },
    errors: MODEL_READ_ERRORS,
  },
];

// ---- the earlier .NET gateway's API (src/surfaces/dotnet) -------------------------------------

/** Its paths: under `/api/v1`, their own tag; served as the OpenAI endpoints above. */
export const DOTNET_PREFIX = { prefix: '/api/v1', tag: '.NET gateway', idPrefix: 'dotnet' } as const;

const OPT = (type: string, extra: Schema = {}): Schema => ({ type: [type, 'null'], ...extra });
const STOP: Schema = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 4 }, { type: 'null' }] };
const DOTNET_USAGE: Schema = {
  type: 'object',
  required: ['promptTokens', 'completionTokens', 'totalTokens'],
  properties: { promptTokens: INTEGER, completionTokens: INTEGER, totalTokens: INTEGER },
};
const DOTNET_REPLY: Record<string, Schema> = {
  modelId: { type: ['string', 'null'], description: 'The model id the client asked for (`openai.gpt-4o`).' },
  provider: { type: ['string', 'null'], description: 'The provider that served the request.' },
  usage: DOTNET_USAGE,
};
const DOTNET_MODEL_FIELDS: Record<string, Schema> = {
  ...MODEL_FIELDS,
  displayName: { type: 'string', description: 'The display name, else the id.' },
  contextWindow: INTEGER,
};

/**
 * Request and answer schemas. The .NET gateway's exact DTOs are not available: requests are
 * taken in OpenAI's shape or as the common .NET DTO in camelCase (either name of a field, `null`
 * for absent), and answers are OpenAI's objects with the DTO's camelCase fields added.
 */
export function dotnetSchemas(): Record<string, Schema> {
  return {
    DotnetCompletionRequest: {
      type: 'object',
      description:
        "OpenAI's chat completion body, or the .NET DTO: `modelId`, `prompt` (one user message) with an optional `systemPrompt`/`system`, `maxTokens`, `topP`, `stopSequences`, `userId`. Each field under either name, never both with different values; `null` is absent. Other fields are OpenAI's (checked as for /v1/chat/completions).",
      anyOf: [{ required: ['model'] }, { required: ['modelId'] }],
      properties: {
        model: OPT('string'),
        modelId: OPT('string'),
        messages: OPT('array', { items: { type: 'object' }, description: 'OpenAI messages (`role` in any case: `User` is `user`).' }),
        prompt: OPT('string'),
        systemPrompt: OPT('string'),
        system: OPT('string'),
        max_tokens: OPT('integer', { minimum: 1 }),
        maxTokens: OPT('integer', { minimum: 1 }),
        temperature: OPT('number', { minimum: 0, maximum: 2 }),
        top_p: OPT('number', { minimum: 0, maximum: 1 }),
        topP: OPT('number', { minimum: 0, maximum: 1 }),
        stop: STOP,
        stopSequences: STOP,
        user: OPT('string'),
        userId: OPT('string'),
        stream: OPT('boolean', { description: 'On /completion: stream as on /completion/stream. /completion/stream always streams.' }),
      },
    },
    DotnetEmbeddingRequest: {
      type: 'object',
      description: "OpenAI's embeddings body, or the .NET DTO: `modelId`, and `text` (one string) or `texts` (several) for `input`.",
      anyOf: [{ required: ['model'] }, { required: ['modelId'] }],
      properties: {
        model: OPT('string'),
        modelId: OPT('string'),
        input: { anyOf: [{ type: 'string' }, { type: 'array' }, { type: 'null' }] },
        text: OPT('string'),
        texts: OPT('array', { items: { type: 'string' } }),
        encoding_format: OPT('string'),
        encodingFormat: OPT('string'),
        dimensions: OPT('integer', { minimum: 1 }),
        user: OPT('string'),
        userId: OPT('string'),
      },
    },
    DotnetCompletion: {
      allOf: [
        ref('ChatCompletion'),
        {
          type: 'object',
          required: ['content', 'modelId', 'provider', 'finishReason'],
          properties: {
            content: { type: ['string', 'null'], description: "The first choice's text." },
            finishReason: { type: ['string', 'null'], examples: ['stop', 'length'] },
            ...DOTNET_REPLY,
          },
        },
      ],
    },
    DotnetEmbeddingList: {
      allOf: [
        ref('EmbeddingList'),
        {
          type: 'object',
          required: ['embeddings', 'modelId', 'provider'],
          properties: { embeddings: { type: 'array', items: { type: ['array', 'string'], items: { type: 'number' } }, description: 'The vectors, in input order.' }, ...DOTNET_REPLY },
        },
      ],
    },
    DotnetModel: closed(DOTNET_MODEL_FIELDS, ['display_name', 'context_window', 'contextWindow']),
    DotnetModelList: closed({ object: { const: 'list' }, data: { type: 'array', items: ref('DotnetModel') } }),
  };
}

const DOTNET_EVENT_STREAM = {
  type: 'string',
  description: 'Server-sent events: `data: {chunk}` lines, each a chat.completion.chunk that also carries `content` (its delta text), `modelId`, `provider` and `finishReason`, ending with `data: [DONE]`.',
};

const DOTNET_NOTE = 'For clients of the earlier .NET gateway: authenticate with `X-API-Key` (or any key header); the key roles, routing, limits, usage records and content filter are those of the OpenAI endpoints. Errors have OpenAI\'s shape.';

export const DOTNET_OPERATIONS: LlmOperation[] = [
  {
    method: 'POST',
    path: '/completion',
    operationId: 'createCompletion',
    summary: 'Create a completion (.NET gateway)',
    description: `Served as a chat completion (key role \`completion\`). ${DOTNET_NOTE}`,
    body: ref('DotnetCompletionRequest'),
    streams: true,
    ok: { description: 'The completion: OpenAI\'s, with the .NET fields.', schema: ref('DotnetCompletion') },
    errors: LLM_ERRORS,
  },
  {
    method: 'POST',
    path: '/completion/stream',
    operationId: 'streamCompletion',
    summary: 'Stream a completion (.NET gateway)',
    description: `Served as a streamed chat completion (key role \`completion\`). ${DOTNET_NOTE}`,
    body: ref('DotnetCompletionRequest'),
    ok: { description: 'The completion as it is generated.', content: { 'text/event-stream': DOTNET_EVENT_STREAM } },
    errors: LLM_ERRORS,
  },
  {
    method: 'POST',
    path: '/embedding',
    operationId: 'createEmbedding',
    summary: 'Create embeddings (.NET gateway)',
    description: `Served as embeddings (key role \`embedding\`). ${DOTNET_NOTE}`,
    body: ref('DotnetEmbeddingRequest'),
    ok: { description: 'The embeddings: OpenAI\'s list, with the .NET fields.', schema: ref('DotnetEmbeddingList') },
    errors: LLM_ERRORS,
  },
  {
    method: 'GET',
    path: '/models',
    operationId: 'listModels',
    summary: 'List the models the caller may use (.NET gateway)',
    ok: { description: 'The models.', schema: ref('DotnetModelList') },
    errors: READ_ERRORS,
  },
  {
    method: 'GET',
    path: '/models/{model}',
    operationId: 'getModel',
    summary: 'Describe a model (.NET gateway)',
    description: 'Any id chat accepts, e.g. `openai.gpt-4-turbo` (provider.model).',
    params: { model: 'The model id (URL-encoded; it may contain `/`).' },
    ok: { description: 'The model.', schema: ref('DotnetModel') },
    errors: MODEL_READ_ERRORS,
  },
  {
    method: 'GET',
    path: '/models/provider/{provider}',
    operationId: 'listProviderModels',
    summary: "List one provider's models (.NET gateway)",
    params: { provider: 'The provider name, in any case (`OpenAI` is `openai`).' },
    ok: { description: 'The models.', schema: ref('DotnetModelList') },
    errors: { ...READ_ERRORS, 404: error(['provider_not_found'], 'No such provider, or the caller may not use it') },
  },
];

// ---- Anthropic Messages (src/surfaces/anthropic, docs/agent-apis.md) ------------------------------

/** `/v1/messages` and its token count: their own tag, Anthropic's key header and error shape. */
export const ANTHROPIC_PREFIX = { prefix: '/v1', tag: 'Anthropic', idPrefix: '' } as const;

/** An Anthropic error: `{"type":"error","error":{"type","message"}}`, with the gateway's status. */
const anthropicError = (types: string[], what: string): ResponseDef => ({
  description: `${what} (\`error.type\`: ${types.map((t) => `\`${t}\``).join(', ')}).`,
  schema: ref('AnthropicError'),
});

const ANTHROPIC_ERRORS: Record<number, ResponseDef> = {
  400: anthropicError(['invalid_request_error'], 'The request is invalid (the message names the field), or the content filter refused it'),
  401: anthropicError(['authentication_error'], 'No gateway key, or an unusable one'),
  403: anthropicError(['permission_error'], 'The caller may not use this model or provider'),
  404: anthropicError(['not_found_error'], 'No such model (or the caller may not see it)'),
  413: anthropicError(['request_too_large'], 'The request body is larger than the gateway accepts'),
  429: { ...anthropicError(['rate_limit_error'], 'A rate limit or quota refused the request'), headers: RETRY_AFTER },
  500: anthropicError(['api_error'], 'The gateway failed'),
  502: anthropicError(['api_error'], 'The provider could not be reached or answered with an error that is not JSON'),
  503: anthropicError(['api_error', 'overloaded_error'], 'The provider or a store is unavailable'),
  504: anthropicError(['timeout_error'], 'The provider did not answer in time'),
  529: anthropicError(['overloaded_error'], 'Anthropic is overloaded (native attempts keep its status)'),
};

const ANTHROPIC_EVENT_STREAM: Schema = {
  type: 'string',
  description:
    'Anthropic server-sent events (`event:` + `data:`): `message_start`, `ping`, `content_block_start` / `content_block_delta` / `content_block_stop`, `message_delta`, `message_stop`; a failure mid-stream ends with `event: error`.',
};

const TEXT_OR_BLOCKS: Schema = { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'object', required: ['type'], properties: { type: STRING } } }] };

/** What Messages and count_tokens take in common (Anthropic's published fields; the rest is passed on natively). */
const MESSAGES_FIELDS: Record<string, Schema> = {
  model: { type: 'string', description: 'Any model the gateway routes: `claude-*` natively, others translated.' },
  messages: {
    type: 'array',
    items: { type: 'object', required: ['role', 'content'], properties: { role: { enum: ['user', 'assistant'] }, content: TEXT_OR_BLOCKS } },
  },
  system: TEXT_OR_BLOCKS,
  tools: { type: 'array', items: { type: 'object' } },
  tool_choice: { type: 'object', required: ['type'], properties: { type: { enum: ['auto', 'any', 'tool', 'none'] }, name: STRING } },
  thinking: { type: 'object' },
};

export function anthropicSchemas(): Record<string, Schema> {
  return {
    AnthropicMessageRequest: {
      type: 'object',
      required: ['model', 'max_tokens', 'messages'],
      properties: {
        ...MESSAGES_FIELDS,
        max_tokens: { type: 'integer', minimum: 1 },
        stop_sequences: { type: 'array', items: STRING },
        temperature: { type: 'number' },
        top_p: { type: 'number' },
        top_k: INTEGER,
        metadata: { type: 'object', properties: { user_id: OPT_STRING } },
        stream: { type: 'boolean' },
      },
    },
    AnthropicCountTokensRequest: { type: 'object', required: ['model', 'messages'], properties: MESSAGES_FIELDS },
    AnthropicMessage: {
      type: 'object',
      required: ['id', 'type', 'role', 'model', 'content', 'stop_reason', 'usage'],
      properties: {
        id: STRING,
        type: { const: 'message' },
        role: { const: 'assistant' },
        model: STRING,
        content: {
          type: 'array',
          items: {
            type: 'object',
            required: ['type'],
            properties: { type: { type: 'string', examples: ['text', 'tool_use', 'thinking'] }, text: STRING, id: STRING, name: STRING, input: { type: 'object' } },
          },
        },
        stop_reason: { type: ['string', 'null'], examples: ['end_turn', 'max_tokens', 'stop_sequence', 'tool_use', 'refusal'] },
        stop_sequence: OPT_STRING,
        usage: {
          type: 'object',
          required: ['input_tokens', 'output_tokens'],
          properties: { input_tokens: INTEGER, output_tokens: INTEGER, cache_creation_input_tokens: { type: ['integer', 'null'] }, cache_read_input_tokens: { type: ['integer', 'null'] } },
        },
      },
    },
    AnthropicTokenCount: { type: 'object', required: ['input_tokens'], properties: { input_tokens: INTEGER } },
    AnthropicError: {
      type: 'object',
      description: "Every error on the Anthropic paths, in Anthropic's shape (the gateway's error code is not part of it).",
      required: ['type', 'error'],
      properties: {
        type: { const: 'error' },
        error: { type: 'object', required: ['type', 'message'], properties: { type: STRING, message: STRING } },
      },
    },
  };
}

export const ANTHROPIC_OPERATIONS: LlmOperation[] = [
  {
    method: 'POST',
    path: '/messages',
    operationId: 'createMessage',
    summary: 'Create a message (Anthropic Messages API)',
    description:
      'For every model the gateway routes: natively to `anthropic` providers (the client\'s bytes and `anthropic-version` / `anthropic-beta` headers), translated both ways for the others. See docs/agent-apis.md.',
    body: ref('AnthropicMessageRequest'),
    streams: true,
    eventStream: ANTHROPIC_EVENT_STREAM,
    ok: { description: 'The message.', schema: ref('AnthropicMessage') },
    errors: ANTHROPIC_ERRORS,
  },
  {
    method: 'POST',
    path: '/messages/count_tokens',
    operationId: 'countMessageTokens',
    summary: 'Count the input tokens of a message (Anthropic Messages API)',
    description: "Anthropic's own count for a model an `anthropic` provider serves; otherwise the gateway's estimate (no provider called).",
    body: ref('AnthropicCountTokensRequest'),
    ok: { description: 'The count.', schema: ref('AnthropicTokenCount') },
    errors: ANTHROPIC_ERRORS,
  },
];
