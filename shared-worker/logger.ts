/**
 * One tag for every client log line: `[realtime][connected] {org: '456', transport: 'v2'}`,
 * so a developer can filter the console by `[realtime]`. Tokens never reach a log line.
 */

export type LogLevel = 'info' | 'warn' | 'error';

export interface Logger {
  /** Logs `[realtime][what]` with structured details. */
  log(what: string, details?: Record<string, unknown>, level?: LogLevel): void;
}

/** What the logger writes to; `console` by default. */
export type LogSink = Pick<Console, 'info' | 'warn' | 'error'>;

const SECRET_KEYS = /token|authorization|secret/i;

function redact(details: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) out[key] = SECRET_KEYS.test(key) ? '[redacted]' : value;
  return out;
}

/** A logger writing `[realtime][what] {details}` lines to `sink`. */
export function createLogger(sink: LogSink = console): Logger {
  return {
    log(what, details, level = 'info') {
      const prefix = `[realtime][${what}]`;
      if (details === undefined) sink[level](prefix);
      else sink[level](prefix, redact(details));
    },
  };
}

/** A logger that drops everything (tests, or apps that want silence). */
export const silentLogger: Logger = { log() {} };
