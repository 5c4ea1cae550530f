import { parsePath } from '../../src/core/endpoints';

test.each([
  ['/v1/chat/completions', 'chat.completions', '/v1'],
  ['/chat/completions', 'chat.completions', ''],
  ['/v1/langchain/chat/completions', 'chat.completions', '/v1/langchain'],
  ['/v1/embeddings', 'embeddings', '/v1'],
  ['/embeddings', 'embeddings', ''],
  ['/v1/models', 'models', '/v1'],
  ['/v1/models/gpt-4o', 'models', '/v1'],
  ['/v1/completions', 'completions', '/v1'],
  ['/v1/responses', 'responses', '/v1'],
  ['/v1/chat/completions/', 'chat.completions', '/v1'],
  ['/v1/nothing', 'unknown', '/v1'],
  ['/v1', 'unknown', '/v1'],
  ['/v1chat/completions', 'unknown', ''],
  ['/', 'unknown', ''],
  ['/admin/../v1/chat/completions', 'unknown', ''],
])('%s → %s', (path, endpoint, prefix) => {
  expect(parsePath(path)).toMatchObject({ endpoint, prefix });
});
