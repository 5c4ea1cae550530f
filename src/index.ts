/** Public surface for plugin authors: `import { definePlugin, GatewayError } from 'llm-gateway'`. */
export * from './plugins/types';
export { GatewayError, errorBody } from './errors';
export type { OpenAIErrorBody, OpenAIErrorType } from './errors';
