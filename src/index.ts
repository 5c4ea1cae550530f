/** Public surface for plugin authors: `import { definePlugin, GatewayError } from 'llm-gateway'`. */
export * from './domain';
export * from './plugins/api';
