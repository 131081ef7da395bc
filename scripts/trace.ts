/**
 * `make trace ID=<correlation id>`: one order's journey across the three services, from their
 * log files, in time order.
 */
import { formatLogLine, readServiceLogs } from './service-logs.js';

const id = process.argv[2];
if (!id) {
  console.error('usage: make trace ID=<x-request-id of the request that placed the order>');
  process.exit(2);
}

const HIDDEN = new Set(['level', 'time', 'service', 'msg', 'correlationId', 'pid', 'hostname', 'req', 'res']);
const lines = readServiceLogs((l) => l.correlationId === id);
if (lines.length === 0) console.log(`no log line carries correlationId ${id}`);
for (const line of lines) console.log(formatLogLine(line, Object.keys(line.fields).filter((k) => !HIDDEN.has(k))));
