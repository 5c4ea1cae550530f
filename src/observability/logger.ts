import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Errors are logged as type, message, code and stack only: library errors can carry whole
 * client objects (connection parameters, request options) that must not reach a log line.
 */
function safeError(err: unknown): unknown {
  if (!err || typeof err !== 'object') return err;
  const e = err as { name?: string; type?: string; message?: unknown; code?: unknown; stack?: unknown };
  return { type: e.name ?? e.type, message: e.message, code: e.code, stack: e.stack };
}

/**
 * JSON logs on stdout. Writes are asynchronous (sonic-boom buffers them) so logging stays off
 * the request path; `flushLogs` is called on shutdown. Header and key fields are redacted as a
 * second line of defence: no code path should log them in the first place.
 */
export function createLogger(level: string, destination: pino.DestinationStream = pino.destination({ sync: false })): Logger {
  return pino(
    {
      level,
      base: { service: 'llm-gateway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: safeError },
      redact: {
        paths: ['authorization', 'api_key', 'apiKey', 'headers.authorization', 'headers["x-api-key"]', 'headers["api-key"]', 'headers.cookie', '*.api_key', '*.apiKey'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/** The logging section of the configuration (LoggingConfig), as far as the logger needs it. */
export interface LogSettings {
  level: string;
  /** JSON lines to this file as well as stdout (a relative path is resolved against baseDir). */
  file: { enabled: boolean; path: string };
}

export interface GatewayLog {
  log: Logger;
  /** The log file, absolute, when logging to one. */
  file?: string;
  /** Reopens the log file (after logrotate moved it); nothing without one. */
  reopen(): void;
}

/** The log file cannot be opened: reported at start, before anything runs. */
export class LogFileError extends Error {}

/**
 * The gateway's logger from its logging settings: stdout, plus the log file when enabled (each
 * process, the processor workers included, appends to it itself: a log line is one write, and
 * the file is opened for appending). The file is reopened by `reopen`, which the CLI calls on
 * SIGHUP (logrotate's `postrotate`), so a rotated file is let go and a new one started.
 */
export function gatewayLogger(settings: LogSettings, baseDir: string, stdout: pino.DestinationStream = pino.destination({ sync: false })): GatewayLog {
  let log: Logger;
  let file: string | undefined;
  let reopen: () => void = () => {};
  if (!settings.file.enabled) log = createLogger(settings.level, stdout);
  else {
    file = path.resolve(baseDir, settings.file.path);
    // Opened once synchronously, so a path that cannot be written fails the start with its reason.
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.closeSync(fs.openSync(file, 'a'));
    } catch (err) {
      throw new LogFileError(`logging.file.path: cannot write the log file ${file}: ${(err as Error).message}`);
    }
    const dest = pino.destination({ dest: file, append: true, mkdir: true, sync: false });
    let failed = false;
    // A failing disk must not take the gateway down: stdout keeps the logs, stderr says why once.
    dest.on('error', (err: Error) => {
      if (failed) return;
      failed = true;
      process.stderr.write(`llm-gateway: writing the log file ${file} failed: ${err.message}\n`);
    });
    log = createLogger(settings.level, tee(stdout, dest));
    reopen = () => {
      failed = false;
      dest.reopen();
    };
  }
  return { log, file, reopen };
}

type Destination = pino.DestinationStream & { flush?(cb?: (err?: Error) => void): void; flushSync?(): void };

/** Every line to both destinations (the logger's level already chose the lines). */
function tee(a: Destination, b: Destination): Destination {
  return {
    write(line: string) {
      a.write(line);
      b.write(line);
    },
    flush(cb?: (err?: Error) => void) {
      let left = 2;
      const done = () => {
        if (--left === 0) cb?.();
      };
      for (const d of [a, b]) {
        try {
          if (d.flush) d.flush(done);
          else done();
        } catch {
          done();
        }
      }
    },
    flushSync() {
      for (const d of [a, b]) {
        try {
          d.flushSync?.();
        } catch {
          // not open yet, or already closed
        }
      }
    },
  };
}

export function flushLogs(log: Logger): void {
  try {
    log.flush();
  } catch {
    // the destination may already be closed during shutdown
  }
}
