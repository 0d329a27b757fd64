/** What every endpoint of one running server shares. */
import type { TokenAuthority } from './auth.ts';
import type { ServerOptions } from './config.ts';
import type { EventLog } from './event-log.ts';
import type { Hub } from './hub.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { StreamingSwitch } from './streaming-switch.ts';
import type { EventInput, StreamEvent } from '../protocol/index.ts';

export interface ServerContext {
  options: ServerOptions;
  log: EventLog;
  hub: Hub;
  auth: TokenAuthority;
  metrics: Metrics;
  logger: Logger;
  streaming: StreamingSwitch;
  /** Appends through the log and counts it: the one path of the publish API and the demo publisher. */
  publish(input: EventInput): Promise<StreamEvent>;
}
