/**
 * Child process for the crash-durability test in `sqlite-event-log.test.ts`: appends events to the
 * log at argv[2] forever, printing each id once `append()` resolved. The test SIGKILLs it mid-stream.
 */
import { createSqliteEventLog } from './sqlite-event-log.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: sqlite-crash-fixture.ts FILE');
const log = createSqliteEventLog({ file });
for (let i = 0; ; i++) {
  const event = await log.append({ org: 'crash', service: 'fixture', type: 'tick', data: { i } });
  // Pipes are synchronous on Linux: a line that reached the parent was acknowledged first.
  process.stdout.write(`${event.id}\n`);
}
