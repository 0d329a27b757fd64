/**
 * A measurement device for the load generator, not product code: replaces `ws`'s client-side
 * inflate with a synchronous one-shot `inflateRawSync` for sockets that negotiated
 * `server_no_context_takeover` (RFC 7692 §7.1.1.1: every server message is deflated on its own,
 * so it can be inflated on its own).
 *
 * Why: `ws` inflates every message of every socket through an async zlib call on the thread pool.
 * With thousands of sockets in ONE process that costs the load generator far more than the
 * server spends compressing, and the bench would measure the load generator (browsers inflate
 * natively, one tab each). The output bytes are identical; only the client gets cheaper, for
 * every deflate variant alike. Sockets with context takeover keep ws's own inflate.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { constants, inflateRawSync } from 'node:zlib';

type Callback = (error: Error | null, data?: Buffer) => void;

interface PerMessageDeflateInstance {
  params?: Record<string, unknown> | null;
  _isServer?: boolean;
  __syncChunks?: Buffer[];
}

interface PerMessageDeflatePrototype {
  decompress(this: PerMessageDeflateInstance, data: Buffer, fin: boolean, callback: Callback): void;
}

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const EMPTY = Buffer.alloc(0);
let installed = false;

export function installSyncInflate(): void {
  if (installed) return;
  // ws's package exports hide lib/: load the file next to its main entry (the same module instance ws uses).
  const require = createRequire(import.meta.url);
  const exported: unknown = require(join(dirname(require.resolve('ws')), 'lib', 'permessage-deflate.js'));
  const prototype = typeof exported === 'function' ? (exported.prototype as Partial<PerMessageDeflatePrototype>) : undefined;
  const original = prototype?.decompress;
  if (!prototype || typeof original !== 'function') throw new Error('ws/lib/permessage-deflate.js changed shape: remove installSyncInflate');
  installed = true;
  prototype.decompress = function decompress(data, fin, callback) {
    if (this._isServer !== false || this.params?.server_no_context_takeover !== true) {
      original.call(this, data, fin, callback);
      return;
    }
    (this.__syncChunks ??= []).push(data);
    if (!fin) {
      queueMicrotask(() => callback(null, EMPTY));
      return;
    }
    const chunks = this.__syncChunks;
    this.__syncChunks = [];
    let output: Buffer;
    try {
      output = inflateRawSync(Buffer.concat([...chunks, TRAILER]), { finishFlush: constants.Z_SYNC_FLUSH });
    } catch (error) {
      queueMicrotask(() => callback(error instanceof Error ? error : new Error(String(error))));
      return;
    }
    // Asynchronous like zlib's callback: ws's receiver loop expects to be re-entered later, not now.
    queueMicrotask(() => callback(null, output));
  };
}
