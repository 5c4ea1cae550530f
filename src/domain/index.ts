/** The shared vocabulary: plain types every layer (plugins, providers, core, store, admin) speaks. */
export * from './json';
export * from './http';
export * from './principal';
export * from './providers';
export * from './usage';
export * from './keys';
export * from './settings';
export * from './rate-limits';
export * from './errors';
export * from './error-codes';
export * from './json-depth';
export * from './own';
export * from './glob';
export * from './sse';
