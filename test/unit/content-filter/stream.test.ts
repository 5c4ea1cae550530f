import { StreamFilter, TextWindow } from '../../../plugins/content-filter/engine';
import type { JsonValue } from '../../../src/domain';
import { FAKE_KEY, filters, SCAN, splitInto } from './helpers';

/** Pushes pieces through a window (the last one final) and returns what the client would see. */
function through(w: TextWindow, pieces: string[]): { text: string; released: string[]; blocked?: string; findings: string[] } {
  const released: string[] = [];
  const findings: string[] = [];
  for (const [i, p] of pieces.entries()) {
    const r = w.push(p, i === pieces.length - 1);
    if (r.blocked) return { text: released.join(''), released, blocked: r.blocked.rule.name, findings };
    released.push(r.release);
    findings.push(...r.findings.map((f) => `${f.rule.name}:${f.rule.action}`));
  }
  return { text: released.join(''), released, findings };
}

const redactKeys = () => filters({ name: 'keys', detectors: ['secrets'], action: 'redact' }).response;
const blockKeys = () => filters({ name: 'keys', detectors: ['secrets'], action: 'block' }).response;

describe('hold-back window', () => {
  test('a secret split across two chunks is masked', () => {
    const text = `your key is ${FAKE_KEY} — keep it safe`;
    const [a, b] = [text.slice(0, 20), text.slice(20)];
    const out = through(new TextWindow(redactKeys(), SCAN), [a, b, '']);
    expect(out.text).toBe('your key is [REDACTED:secrets] — keep it safe');
    expect(out.released.join('')).not.toContain(FAKE_KEY.slice(0, 12));
    expect(out.findings).toEqual(['keys:redact']);
  });

  test('a secret split across three chunks is masked', () => {
    const text = `token ${FAKE_KEY} end`;
    const out = through(new TextWindow(redactKeys(), SCAN), [...splitInto(text, 3), '']);
    expect(out.text).toBe('token [REDACTED:secrets] end');
  });

  test('every split of a secret into two or three pieces is caught', () => {
    const text = `a ${FAKE_KEY} b`;
    for (let i = 1; i < text.length; i += 3) {
      for (let j = i + 1; j < text.length; j += 7) {
        const out = through(new TextWindow(redactKeys(), SCAN), [text.slice(0, i), text.slice(i, j), text.slice(j), '']);
        expect(out.text).toBe('a [REDACTED:secrets] b');
      }
    }
  });

  test('one character at a time', () => {
    const text = `mail ann@example.org and card 4111 1111 1111 1111 ok`;
    const rules = filters({ name: 'pii', detectors: ['pii'], action: 'redact' }).response;
    const out = through(new TextWindow(rules, SCAN), [...text, '']);
    expect(out.text).toBe('mail [REDACTED:email] and card [REDACTED:credit_card] ok');
    expect(out.findings).toHaveLength(2);
  });

  test('block stops as soon as the split match is seen, before releasing it', () => {
    const text = `here ${FAKE_KEY} there`;
    const pieces = splitInto(text, 3);
    const out = through(new TextWindow(blockKeys(), SCAN), [...pieces, '']);
    expect(out.blocked).toBe('keys');
    expect(out.released.join('')).not.toContain('sk-proj');
  });

  test('text is released once the window has passed it', () => {
    const w = new TextWindow(redactKeys(), { ...SCAN, windowChars: 10 });
    const r = w.push('0123456789abcdefghij', false);
    expect(r.release).toBe('0123456789');
    expect(w.held).toBe(10);
    expect(w.push('', true).release).toBe('abcdefghij');
  });

  test('a growing match is held from its start until it ends', () => {
    const pem = `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(300)}\n-----END PRIVATE KEY-----`;
    const text = `key:\n${pem}\nbye`;
    const out = through(new TextWindow(redactKeys(), { ...SCAN, windowChars: 32 }), [...splitInto(text, 40), '']);
    expect(out.text).toBe('key:\n[REDACTED:secrets]\nbye');
  });

  test('the hold has a limit: a never-ending match is released masked', () => {
    const w = new TextWindow(redactKeys(), { ...SCAN, windowChars: 16, maxHoldChars: 256 });
    let seen = w.push('before -----BEGIN PRIVATE KEY-----\n', false).release;
    for (let i = 0; i < 20; i++) {
      seen += w.push('A'.repeat(50), false).release;
      expect(w.held).toBeLessThanOrEqual(256 + 50);
    }
    seen += w.push('\n-----END PRIVATE KEY----- after', true).release;
    expect(seen).toBe('before [REDACTED:secrets] after');
  });

  test('flag matches are counted once, when released', () => {
    const rules = filters({ name: 'watch', keywords: ['falcon'], action: 'flag' }).response;
    const out = through(new TextWindow(rules, { ...SCAN, windowChars: 8 }), ['the fal', 'con flies over the ', 'hills and the falcon', '']);
    expect(out.text).toBe('the falcon flies over the hills and the falcon');
    expect(out.findings).toEqual(['watch:flag', 'watch:flag']);
  });

  test('surrogate pairs are never split', () => {
    const w = new TextWindow(redactKeys(), { ...SCAN, windowChars: 8 });
    const text = '😀'.repeat(20);
    const parts = [w.push(text, false).release, w.push('', true).release];
    expect(parts.join('')).toBe(text);
    expect(parts[0]!.length % 2).toBe(0);
  });
});

const chunk = (content: string | undefined, finish: string | null = null, index = 0): JsonValue => ({
  id: 'c1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index, delta: content === undefined ? {} : { content }, finish_reason: finish }],
});

describe('stream filter over OpenAI chunks', () => {
  function run(sf: StreamFilter, chunks: JsonValue[]) {
    const out: JsonValue[] = [];
    for (const c of chunks) {
      const r = sf.chunk(c);
      if (r.blocked) return { out, blocked: r.blocked.rule.name };
      out.push(r.replace ?? c);
    }
    const f = sf.flush();
    return { out: [...out, ...f.chunks], blocked: f.blocked?.rule.name };
  }
  const text = (chunks: JsonValue[]) => chunks.map((c: any) => c.choices.map((ch: any) => ch.delta?.content ?? ch.text ?? '').join('')).join('');

  test('held text is flushed into the finish chunk', () => {
    const sf = new StreamFilter(redactKeys(), SCAN);
    const { out } = run(sf, [chunk(''), chunk(`key ${FAKE_KEY.slice(0, 20)}`), chunk(`${FAKE_KEY.slice(20)} done`), chunk(undefined, 'stop')]);
    expect(text(out)).toBe('key [REDACTED:secrets] done');
    expect((out[3] as any).choices[0]).toEqual({ index: 0, delta: { content: expect.stringMatching(/\[REDACTED:secrets\] done$/) }, finish_reason: 'stop' });
  });

  test('without a finish chunk, held text comes out in extra chunks at [DONE]', () => {
    const sf = new StreamFilter(redactKeys(), SCAN);
    const { out } = run(sf, [chunk('hello '), chunk('world')]);
    expect(out).toHaveLength(3);
    expect(out[2]).toEqual({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'hello world' }, logprobs: null, finish_reason: null }] });
  });

  test('choices are windowed separately', () => {
    const sf = new StreamFilter(redactKeys(), SCAN);
    const { out } = run(sf, [chunk(`a ${FAKE_KEY.slice(0, 10)}`, null, 0), chunk('b plain', null, 1), chunk(`${FAKE_KEY.slice(10)}`, null, 0), chunk(undefined, 'stop', 0), chunk(undefined, 'stop', 1)]);
    const byIndex = (i: number) => out.map((c: any) => (c.choices[0].index === i ? c.choices[0].delta?.content ?? '' : '')).join('');
    expect(byIndex(0)).toBe('a [REDACTED:secrets]');
    expect(byIndex(1)).toBe('b plain');
  });

  test('block in a stream', () => {
    const sf = new StreamFilter(blockKeys(), SCAN);
    const { blocked, out } = run(sf, [chunk('x '), chunk(FAKE_KEY.slice(0, 15)), chunk(FAKE_KEY.slice(15))]);
    expect(blocked).toBe('keys');
    expect(text(out)).not.toContain('sk-');
  });

  test('legacy completions stream text', () => {
    const sf = new StreamFilter(redactKeys(), SCAN);
    const c = (t: string, finish: string | null = null) => ({ id: 'x', object: 'text_completion', choices: [{ index: 0, text: t, finish_reason: finish }] });
    const { out } = run(sf, [c(FAKE_KEY.slice(0, 9)), c(FAKE_KEY.slice(9)), c('', 'stop')]);
    expect(text(out)).toBe('[REDACTED:secrets]');
  });

  test('rules whose paths do not select streamed text leave the stream alone', () => {
    const rules = filters({ name: 'second', paths: ['$.choices[1].message.content'], detectors: ['secrets'], action: 'redact' }).response;
    const sf = new StreamFilter(rules, SCAN);
    const first = sf.chunk(chunk(FAKE_KEY, null, 0));
    expect(first.replace).toBeUndefined();
    const second = sf.chunk(chunk(FAKE_KEY, null, 1));
    expect(second.replace).toBeDefined();
  });

  test('chunks without choices (usage) pass untouched', () => {
    const sf = new StreamFilter(redactKeys(), SCAN);
    expect(sf.chunk({ id: 'x', choices: [], usage: { total_tokens: 3 } })).toEqual({ findings: [] });
  });
});
