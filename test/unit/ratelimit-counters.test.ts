import { MemoryCounters } from '../../src/ratelimit/counters';
import { describeCounters } from './counter-suite';

describeCounters('in-process', async () => new MemoryCounters());

test('expired in-process counters are swept', async () => {
  let now = 1_000_000;
  const counters = new MemoryCounters(() => now);
  await counters.apply([{ key: 'a', hits: 1, limit: 5, windowMs: 1000, mode: 'limit' }]);
  await counters.apply([{ key: 'b', hits: 1, limit: 5, windowMs: 5000, mode: 'limit' }]);
  expect(counters.size).toBe(2);
  now += 2000;
  counters.sweep();
  expect(counters.size).toBe(1);
  await counters.close();
});
