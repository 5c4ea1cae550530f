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
        paths: ['authorization', 'api_key', 'apiKey', 'headers.authorization', 'headers["x-api-key"]', 'headers["api-key"]', '*.api_key', '*.apiKey'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

export function flushLogs(log: Logger): void {
  try {
    log.flush();
  } catch {
    // the destination may already be closed during shutdown
  }
}
