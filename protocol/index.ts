/** The wire protocol shared by the server, the browser client and the extension. No runtime dependencies. */
export * from './codes.ts';
export * from './cursor.ts';
export * from './devtools-bridge.ts';
export * from './errors.ts';
export * from './event.ts';
export * from './messages.ts';
export * from './parse.ts';
export * from './status.ts';
