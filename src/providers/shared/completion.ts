import type { ChatCompletion, EmbeddingsResponse, ToolCall, Usage } from './openai-types';
import { completionId } from './stream';

/** Building blocks shared by the buffered response translators: OpenAI completions and embeddings. */

type Choice = ChatCompletion['choices'][number];

/** The assistant message of one choice: content is null when the answer is tool calls only. */
export function assistantMessage(text: string, toolCalls: ToolCall[]): Choice['message'] {
  const message: Choice['message'] = { role: 'assistant', content: text || (toolCalls.length ? null : ''), refusal: null };
  if (toolCalls.length) message.tool_calls = toolCalls;
  return message;
}

/** A chat completion; `id` falls back to a gateway-made one, `usage` is left out when unknown. */
export function buildCompletion(id: string | undefined, model: string, choices: Choice[], usage?: Usage): ChatCompletion {
  const out: ChatCompletion = { id: id || completionId(), object: 'chat.completion', created: Math.floor(Date.now() / 1000), model, choices };
  if (usage) out.usage = usage;
  return out;
}

/** OpenAI's base64 embedding encoding: little-endian float32 values. */
export function float32Base64(values: number[]): string {
  const buf = Buffer.alloc(values.length * 4);
  values.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

/** An embeddings list, one entry per vector in input order, base64-encoded when asked. */
export function embeddingList(vectors: number[][], model: string, base64: boolean, usage: EmbeddingsResponse['usage']): EmbeddingsResponse {
  return {
    object: 'list',
    data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: base64 ? float32Base64(v) : v })),
    model,
    usage,
  };
}
