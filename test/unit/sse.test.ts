import { SseParser } from '../../src/domain/sse';

describe('SseParser', () => {
  test.each([
    ['one event', ['data: {"a":1}\n\n'], [['{"a":1}', undefined]]],
    ['split mid-event', ['data: {"a"', ':1}\n', '\n'], [['{"a":1}', undefined]]],
    ['two events in one chunk', ['data: x\n\ndata: y\n\n'], [['x', undefined], ['y', undefined]]],
    ['CRLF framing (Gemini)', ['data: x\r\n\r\ndata: y\r\n', '\r\n'], [['x', undefined], ['y', undefined]]],
    ['CR and LF split across chunks', ['data: x\r', '\n\r\n'], [['x', undefined]]],
    ['named events (Anthropic)', ['event: message_start\ndata: {}\n\n'], [['{}', 'message_start']]],
    ['comments and multi-line data', [': ping\ndata: a\ndata: b\n\n'], [['a\nb', undefined]]],
    ['no space after the colon', ['data:[DONE]\n\n'], [['[DONE]', undefined]]],
  ])('%s', (_name, chunks, expected) => {
    const p = new SseParser();
    const events = chunks.flatMap((c) => p.push(c));
    expect(events.map((e) => [e.data, e.event])).toEqual(expected);
    expect(p.pending).toBe(0);
  });

  test('an unterminated final event is returned by flush', () => {
    const p = new SseParser();
    expect(p.push('data: tail')).toEqual([]);
    expect(p.flush().map((e) => e.data)).toEqual(['tail']);
  });

  test('events serialise back to SSE, and edits are tracked', () => {
    const [ev] = new SseParser().push('data: {"n":1}\n\n');
    expect(ev.json).toEqual({ n: 1 });
    expect(ev.changed).toBe(false);
    ev.replace({ n: 2 });
    expect(ev.serialize()).toBe('data: {"n":2}\n\n');
    ev.drop();
    expect(ev.serialize()).toBe('');
  });

  test('[DONE] and non-JSON payloads have no json', () => {
    const evs = new SseParser().push('data: [DONE]\n\ndata: not json\n\n');
    expect(evs.map((e) => e.json)).toEqual([undefined, undefined]);
  });
});
