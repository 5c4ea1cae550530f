import type { JsonObject } from '../../domain';
import type { ClientSurface, SurfaceRoute } from '../types';
import { messagesToChat, untranslatable } from './request';
import { messageResponse, messagesError } from './response';
import { MessagesStream } from './stream';

export { estimateInputTokens } from './count';

/**
 * Anthropic's Messages API, for agents built on the Anthropic SDKs (Claude Code, the Agent SDK):
 *
 * | path                                | served as                                          |
 * | ----------------------------------- | -------------------------------------------------- |
 * | `POST /v1/messages`                 | chat completions (`api: messages`)                 |
 * | `POST /v1/messages/count_tokens`    | `{"input_tokens": N}`: Anthropic's own count, else an estimate |
 *
 * Plugins see the OpenAI chat view (./request.ts). An attempt on an `anthropic` provider is
 * native: the client's bytes go as they came (the model id alone replaced when routing renamed
 * it) with its `anthropic-version` and `anthropic-beta`, and Anthropic's answer comes back as it
 * is. Every other attempt is translated both ways (./response.ts, ./stream.ts). Errors are
 * Anthropic's `{"type":"error","error":{"type","message"}}`, by status.
 */

const MESSAGES: SurfaceRoute = { endpoint: 'chat.completions', operation: 'messages', api: 'messages' };
const COUNT_TOKENS: SurfaceRoute = { endpoint: 'chat.completions', operation: 'count_tokens', api: 'messages.count_tokens' };
const NATIVE_TYPES: ReadonlySet<string> = new Set(['anthropic']);
/** The client's headers a native attempt carries on; none reaches a translated one. */
export const ANTHROPIC_CLIENT_HEADERS = ['anthropic-version', 'anthropic-beta'] as const;

export const anthropicMessages: ClientSurface = {
  name: 'anthropic',
  prefix: '/v1/messages',

  route(rest) {
    if (rest === '/') return MESSAGES;
    if (rest === '/count_tokens') return COUNT_TOKENS;
    return undefined;
  },

  request(r, body) {
    return messagesToChat(body, r === COUNT_TOKENS);
  },

  response(r, body, ctx) {
    return r === MESSAGES ? messageResponse(body, ctx) : body;
  },

  stream(r, ctx) {
    return r === MESSAGES ? new MessagesStream(ctx) : undefined;
  },

  error(status, body) {
    return messagesError(status, body);
  },

  native(_r, providerType) {
    return NATIVE_TYPES.has(providerType);
  },

  nativeHeaders(_r, get) {
    const out: Record<string, string> = {};
    for (const name of ANTHROPIC_CLIENT_HEADERS) {
      const v = get(name);
      if (v !== undefined) out[name] = v;
    }
    return out;
  },

  untranslatable(_r, clientBody: JsonObject) {
    return untranslatable(clientBody);
  },
};
