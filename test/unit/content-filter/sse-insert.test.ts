import { SseEvent } from '../../../src/domain/sse';

/** StreamEvent.insertBefore: extra events go out just before the one they were attached to. */
test('inserted events precede the event, unchanged or rewritten or dropped', () => {
  const raw = 'data: [DONE]\n\n';
  const done = new SseEvent(undefined, '[DONE]', undefined, raw);
  done.insertBefore({ a: 1 });
  done.insertBefore({ b: 2 });
  expect(done.serialize()).toBe('data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n');

  const ev = new SseEvent('message', '{"x":1}', undefined, 'event: message\ndata: {"x":1}\n\n');
  ev.insertBefore({ y: 2 });
  ev.replace({ x: 3 });
  expect(ev.serialize()).toBe('data: {"y":2}\n\nevent: message\ndata: {"x":3}\n\n');
  ev.drop();
  expect(ev.serialize()).toBe('data: {"y":2}\n\n');
});

test('an inserted event may be named (Responses and Anthropic streams name theirs); a name cannot break the framing', () => {
  const ev = new SseEvent('response.output_text.done', '{"t":1}', undefined, 'event: response.output_text.done\ndata: {"t":1}\n\n');
  ev.insertBefore({ type: 'response.output_text.delta' }, 'response.output_text.delta');
  expect(ev.serialize()).toBe('event: response.output_text.delta\ndata: {"type":"response.output_text.delta"}\n\nevent: response.output_text.done\ndata: {"t":1}\n\n');
  expect(() => ev.insertBefore({}, 'x\ndata: injected')).toThrow();
});
