/**
 * The browser client: `createRealtime()` and its types. Everything else in this folder is the
 * machinery behind it (SharedWorker hub, engine, transports, cursor store).
 */
export { createRealtime } from './create-realtime.ts';
export { firstAnswer, type FirstAnswerOptions } from './first-answer.ts';
export type { EventHandler, EventMeta, Realtime, RealtimeOptions, ResetNotice } from './create-realtime.ts';
export { readStreamingFlag, type StreamingFlag } from './flag.ts';
export { createLogger, silentLogger, type Logger } from './logger.ts';
export type { ClientStatus, ConnectionState, StreamEvent, Transport, TransportReason } from '../protocol/index.ts';
export { ErrorCode, StreamError } from '../protocol/index.ts';
