import { createMemoryEventLog } from './memory-event-log.ts';
import { describeEventLogContract } from './event-log.contract.ts';

describeEventLogContract('memory', async (options = {}) => createMemoryEventLog(options));
