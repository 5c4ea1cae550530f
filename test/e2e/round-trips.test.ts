import { chat, startGateway, type RunningGateway } from '../helpers/gateway';

/**
 * What a plain request costs in processor round trips, from Envoy's own counters: a request
 * with a single possible provider is one ext_proc stream (the listener's), with no per-attempt
 * stream and, when no rate limit rule or quota can apply, no rate limit call.
 */

let gw: RunningGateway;

beforeAll(async () => {
  gw = await startGateway();
}, 60000);

afterAll(async () => {
  await gw?.stop();
});

async function stats(): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${gw.ports.envoyAdmin}/stats?filter=(ext_proc|ratelimit)`)).text();
  return new Map([...text.matchAll(/^(\S+): (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

const sum = (s: Map<string, number>, pattern: RegExp) => [...s].filter(([k]) => pattern.test(k)).reduce((n, [, v]) => n + v, 0);

test.each([
  ['JSON', false],
  ['streamed', true],
])('a %s completion to a single provider: one ext_proc stream, no attempt stream, no rate limit call', async (_name, stream) => {
  const before = await stats();
  for (let i = 0; i < 5; i++) {
    const res = await chat(gw.url, { model: 'echo', stream, messages: [{ role: 'user', content: `hello ${i}` }] });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(stream ? '"content":"hello "' : `hello ${i}`);
  }
  const after = await stats();
  const delta = (pattern: RegExp) => sum(after, pattern) - sum(before, pattern);
  expect(delta(/^http\.gateway\.ext_proc\.streams_started$/)).toBe(5);
  expect(delta(/^cluster\..*\.ext_proc\.streams_started$/)).toBe(0);
  expect(delta(/ratelimit\.(ok|over_limit|error)$/)).toBe(0);
  if (!stream) expect(delta(/^http\.gateway\.ext_proc\.stream_msgs_received$/)).toBe(5 * 4);
});
