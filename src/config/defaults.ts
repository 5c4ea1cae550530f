/**
 * The embedded default configuration: what `npm start` runs when no gateway.yaml exists.
 * It serves the local `echo` demo provider with a demo key, so a fresh machine with no
 * provider credentials can try the gateway, and OpenAI when OPENAI_API_KEY is set.
 */
export const DEMO_API_KEY = 'sk-gateway-demo';
/** A LangChain-tier demo key, for the /v1/langchain endpoint. */
export const DEMO_LANGCHAIN_KEY = 'langchain-gateway-demo';

/** The built-in plugins in the order a request needs them. */
export const DEFAULT_PLUGINS = [
  { use: 'virtual-keys' },
  { use: 'langchain' },
  { use: 'quota' },
  { use: 'model-router' },
  { use: 'usage-recorder' },
];

export const embeddedDefaults = {
  providers: [
    {
      name: 'echo',
      type: 'openai-compatible',
      base_url: 'http://127.0.0.1:9004/v1',
      models: ['echo', 'echo-*'],
    },
    {
      name: 'openai',
      type: 'openai-compatible',
      base_url: 'https://api.openai.com/v1',
      api_key_env: 'OPENAI_API_KEY',
      models: ['gpt-*', 'o1*', 'o3*', 'o4*', 'chatgpt-*', 'text-embedding-*'],
    },
  ],
  keys: {
    entries: {
      [DEMO_API_KEY]: { name: 'demo', user: 'demo', team: 'demo' },
      [DEMO_LANGCHAIN_KEY]: { name: 'demo-langchain', user: 'demo', team: 'demo', tier: 'langchain' },
    },
  },
  pricing: {
    models: {
      echo: { input: 0, output: 0 },
      'gpt-4o-mini*': { input: 0.15, output: 0.6, cached_input: 0.075 },
      'gpt-4o*': { input: 2.5, output: 10, cached_input: 1.25 },
      'gpt-4.1-mini*': { input: 0.4, output: 1.6, cached_input: 0.1 },
      'gpt-4.1*': { input: 2, output: 8, cached_input: 0.5 },
      'text-embedding-3-small': { input: 0.02, output: 0 },
      'text-embedding-3-large': { input: 0.13, output: 0 },
    },
  },
  plugins: DEFAULT_PLUGINS,
};
