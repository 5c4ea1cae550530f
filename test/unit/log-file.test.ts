import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { flushLogs, gatewayLogger, LogFileError, type LogSettings } from '../../src/observability/logger';
import { waitFor } from '../helpers/gateway';

/**
 * LOG_TO_FILE / logging.file: JSON lines on stdout and in the file, and the file reopened
 * (for logrotate) once it has been moved away.
 */

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-log-file-'));
});

const settings = (file: Partial<LogSettings['file']>): LogSettings => ({
  level: 'info',
  file: { enabled: true, path: 'logs/gateway.log', ...file },
});

const linesOf = (file: string) =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];

test('off: stdout only, nothing to reopen', () => {
  const out: string[] = [];
  const g = gatewayLogger({ ...settings({}), file: { enabled: false, path: 'logs/gateway.log' } }, dir, { write: (l: string) => void out.push(l) });
  g.log.info('hello');
  expect(g.file).toBeUndefined();
  expect(fs.existsSync(path.join(dir, 'logs'))).toBe(false);
  expect(() => g.reopen()).not.toThrow();
  expect(out).toHaveLength(1);
});

test('on: every line on stdout and in the file (a relative path is under the configuration’s folder, created)', async () => {
  const out: string[] = [];
  const g = gatewayLogger(settings({}), dir, { write: (l: string) => void out.push(l) });
  expect(g.file).toBe(path.join(dir, 'logs', 'gateway.log'));
  g.log.info({ n: 1 }, 'first');
  g.log.debug('below the level: nowhere');
  g.log.warn({ n: 2 }, 'second');
  flushLogs(g.log);
  await waitFor(() => linesOf(g.file!).length === 2);
  expect(linesOf(g.file!).map((l) => [l.msg, l.level, l.service])).toEqual([
    ['first', 'info', 'llm-gateway'],
    ['second', 'warn', 'llm-gateway'],
  ]);
  expect(out.map((l) => JSON.parse(l).msg)).toEqual(['first', 'second']);
});

test('the file is appended to, never truncated', async () => {
  const file = path.join(dir, 'g.log');
  fs.writeFileSync(file, '{"msg":"before"}\n');
  const g = gatewayLogger(settings({ path: file }), dir, { write: () => undefined });
  g.log.info('after');
  await waitFor(() => linesOf(file).length === 2);
  expect(linesOf(file).map((l) => l.msg)).toEqual(['before', 'after']);
});

test('reopen after a rename (logrotate): old lines stay in the moved file, new ones go to a new file', async () => {
  const g = gatewayLogger(settings({ path: 'gateway.log' }), dir, { write: () => undefined });
  const file = g.file!;
  g.log.info('before rotation');
  await waitFor(() => linesOf(file).length === 1);
  fs.renameSync(file, `${file}.1`);
  g.log.info('still to the moved file');
  await waitFor(() => linesOf(`${file}.1`).length === 2);
  g.reopen();
  g.log.info('after rotation');
  await waitFor(() => linesOf(file).length === 1);
  expect(linesOf(`${file}.1`).map((l) => l.msg)).toEqual(['before rotation', 'still to the moved file']);
  expect(linesOf(file).map((l) => l.msg)).toEqual(['after rotation']);
});

test('a file that cannot be written fails the start, naming it', () => {
  const blocker = path.join(dir, 'not-a-dir');
  fs.writeFileSync(blocker, '');
  expect(() => gatewayLogger(settings({ path: path.join(blocker, 'gateway.log') }), dir)).toThrow(LogFileError);
  expect(() => gatewayLogger(settings({ path: path.join(blocker, 'gateway.log') }), dir)).toThrow(/logging\.file\.path: cannot write the log file .*not-a-dir\/gateway\.log/);
});
