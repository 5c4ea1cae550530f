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
  // First: every later onRequest hook sees a body that matches OpenAI's request schema.
  { use: 'request-validation' },
  // Before virtual-keys: a verified client certificate may stand in for an API key.
  { use: 'mtls-identity' },
  { use: 'virtual-keys' },
  { use: 'langchain' },
  { use: 'quota' },
  { use: 'model-router' },
  // After routing, so it filters the routed request; its rules live in security.content_filters.
  { use: 'content-filter' },
  // Caller and model for the global rate limits (rate_limits in gateway.yaml).
  { use: 'rate-limit-descriptors' },
  // After routing (prices are per model): holds the request's worst case against key and team budgets.
  { use: 'budgets' },
  { use: 'usage-recorder' },
];

export const embeddedDefaults = {
  providers: [
    {
      name: 'echo',
      type: 'openai-compatible',
      base_url: 'http://127.0.0.1:9004/v1',
      models: ['echo', 'echo-*'],
      // The demo server speaks chat completions only: /v1/responses reaches it translated.
      translated_apis: ['responses' as const],
    },
    // The public providers: each serves its models once its key variable is set. Without the
    // key its models answer 503 provider_not_configured (unless a virtual key brings one).
    { name: 'openai', type: 'openai', base_url: 'https://api.openai.com/v1', api_key_env: 'OPENAI_API_KEY' },
    { name: 'anthropic', type: 'anthropic', base_url: 'https://api.anthropic.com/v1', api_key_env: 'ANTHROPIC_API_KEY' },
    { name: 'google', type: 'google', base_url: 'https://generativelanguage.googleapis.com/v1beta', api_key_env: 'GEMINI_API_KEY' },
    { name: 'cohere', type: 'cohere', base_url: 'https://api.cohere.com/v2', api_key_env: 'COHERE_API_KEY' },
    { name: 'meta', type: 'meta', base_url: 'https://api.llama.com/compat/v1', api_key_env: 'LLAMA_API_KEY' },
    { name: 'huggingface', type: 'huggingface', base_url: 'https://router.huggingface.co/v1', api_key_env: 'HF_TOKEN' },
  ],
  keys: {
    entries: {
      [DEMO_API_KEY]: { name: 'demo', user: 'demo', team: 'demo' },
      [DEMO_LANGCHAIN_KEY]: { name: 'demo-langchain', user: 'demo', team: 'demo', tier: 'langchain' as const },
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
