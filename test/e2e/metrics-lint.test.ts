import { spawnSync } from 'node:child_process';
import { CLIENT_KEY, chat, startGateway, testPlugins, type RunningGateway } from '../helpers/gateway';

/**
 * The processor's /metrics, fetched through Envoy from a gateway that has served traffic (so the
 * labelled series of the core and of the plugins exist), passes `promtool check metrics`:
 * Prometheus's own lint (Debian's `prometheus` package). Under CI=true promtool is required.
 */

const LANGCHAIN_KEY = 'langchain-metrics-lint-key';
const hasPromtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

if (!hasPromtool && process.env.CI === 'true') {
  test('promtool is installed (required in CI: apt-get install prometheus)', () => {
    throw new Error("promtool not found: CI must lint /metrics; install Debian's prometheus package");
  });
} else if (!hasPromtool) {
  console.warn('test/e2e/metrics-lint.test.ts: skipped, promtool not found (Debian package "prometheus")');
  test.skip('needs promtool', () => undefined);
} else {
  let gw: RunningGateway;

  beforeAll(async () => {
    gw = await startGateway({
      config: {
        keys: { entries: { [CLIENT_KEY]: { name: 'test-key', user: 'tester', team: 'qa' }, [LANGCHAIN_KEY]: { name: 'lc', tier: 'langchain' } } },
        rate_limits: { rules: [{ name: 'rpm', match: { key: '*' }, requests_per_minute: 1000 }] },
        security: { content_filters: [{ name: 'lint', rules: [{ name: 'flag-eagle', target: 'request', keywords: ['eagle'], action: 'flag' }] }] },
        plugins: testPlugins(),
      },
    });
  }, 60000);

  afterAll(async () => {
    await gw?.stop();
  });

  test('GET /metrics is clean under promtool check metrics', async () => {
    // Traffic that fills the labelled families: completions, a stream, a flagged prompt, a
    // LangChain call, refused keys.
    const ask = { model: 'echo', messages: [{ role: 'user', content: 'an eagle flies' }] };
    expect((await chat(gw.url, ask)).status).toBe(200);
    expect((await (await chat(gw.url, { ...ask, stream: true })).text())).toContain('[DONE]');
    expect((await chat(gw.url, ask, { authorization: 'Bearer sk-unknown-key' })).status).toBe(401);
    const lc = await fetch(`${gw.url}/v1/langchain/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${LANGCHAIN_KEY}` },
      body: JSON.stringify(ask),
    });
    expect(lc.status).toBe(200);
    expect((await fetch(`${gw.url}/v1/keys`)).status).toBe(401);

    const res = await fetch(`${gw.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^gateway_requests_total\{/m);
    expect(text).toMatch(/^gateway_content_filter_matches_total\{/m);
    expect(text).toMatch(/^gateway_process_nodejs_active_handles\{/m);

    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${lint.stdout}${lint.stderr}`).toBe('');
    expect(lint.status).toBe(0);
  });
}
