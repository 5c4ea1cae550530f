/**
 * The embedded default configuration: what `npm start` runs when no gateway.yaml exists.
 * It serves the local `echo` demo provider with a demo key, so a fresh machine with no
 * provider credentials can try the gateway, and OpenAI when OPENAI_API_KEY is set.
 */
export const DEMO_API_KEY = 'sk-gateway-demo';

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
  plugins: [
    { use: 'static-keys', options: { keys: [{ key: DEMO_API_KEY, id: 'demo', user: 'demo' }] } },
    { use: 'model-router' },
  ],
};
