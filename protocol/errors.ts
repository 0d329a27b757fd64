import type { ErrorCode } from './codes.ts';

/** The shape an error takes on the wire and across a MessagePort. */
export interface SerializedError {
  name: string;
  code: ErrorCode;
  message: string;
  closeCode?: number;
}

/**
 * An error with a stable `code` (and the WebSocket close code where one applies).
 * Tests and callers branch on `code`, never on `message`.
 */
export class StreamError extends Error {
  override readonly name = 'StreamError';
  readonly code: ErrorCode;
  readonly closeCode: number | undefined;

  constructor(code: ErrorCode, message: string, closeCode?: number) {
    super(message);
    this.code = code;
    this.closeCode = closeCode;
  }

  toJSON(): SerializedError {
    const out: SerializedError = { name: this.name, code: this.code, message: this.message };
    if (this.closeCode !== undefined) out.closeCode = this.closeCode;
    return out;
  }

  /** Rebuilds an error that crossed a MessagePort or the wire. */
  static from(serialized: SerializedError): StreamError {
    return new StreamError(serialized.code, serialized.message, serialized.closeCode);
  }
}
