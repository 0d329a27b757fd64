/**
 * One logger for the whole server. Every line goes through `redact` first, so a token can never
 * reach a log file, whatever a caller passes in (URLs with `access_token=`, subprotocol lists…).
 */

export type LogLevel = 'info' | 'warn' | 'error';

export interface Logger {
  info(tag: string, message: string, fields?: Record<string, unknown>): void;
  warn(tag: string, message: string, fields?: Record<string, unknown>): void;
  error(tag: string, message: string, fields?: Record<string, unknown>): void;
}

const REDACTIONS: Array<[RegExp, string]> = [
  // Also percent-encoded (`access%5Ftoken%3D…`): URLSearchParams decodes that name to access_token.
  [/access(?:_|%5f)token(?:=|%3d)[^&\s"',;]*/gi, 'access_token=[redacted]'],
  [/bearer\.[A-Za-z0-9._~+/=-]+/gi, 'bearer.[redacted]'],
  [/Bearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer [redacted]'],
  // Any JWT-looking string (three base64url parts, the first a JSON header), wherever it appears.
  [/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g, '[redacted]'],
];

/** Replaces every token-looking substring with `[redacted]`. */
export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of REDACTIONS) out = out.replace(pattern, replacement);
  return out;
}

/** Formats one line: `[realtime-server][tag] message {fields}`. */
export function formatLogLine(level: LogLevel, tag: string, message: string, fields?: Record<string, unknown>): string {
  let line = `[realtime-server][${tag}]${level === 'info' ? '' : ` ${level.toUpperCase()}`} ${message}`;
  if (fields && Object.keys(fields).length > 0) {
    let json: string;
    try {
      json = JSON.stringify(fields);
    } catch {
      json = '{"fields":"unserializable"}';
    }
    line += ` ${json}`;
  }
  return redact(line);
}

/** A logger writing redacted lines to `sink` (default: stdout/stderr). Tests pass a sink to capture lines. */
export function createLogger(sink?: (line: string, level: LogLevel) => void): Logger {
  const write =
    sink ??
    ((line: string, level: LogLevel) => {
      if (level === 'info') console.log(line);
      else console.error(line);
    });
  const emit = (level: LogLevel) => (tag: string, message: string, fields?: Record<string, unknown>) =>
    write(formatLogLine(level, tag, message, fields), level);
  return { info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/** A logger that drops everything (quiet tests). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
