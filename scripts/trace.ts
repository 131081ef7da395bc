/**
 * `make trace ID=<correlation id>`: one order's journey across the three services, from their
 * log files, in time order.
 */
import { readFileSync } from 'node:fs';

const id = process.argv[2];
if (!id) {
  console.error('usage: make trace ID=<x-request-id of the request that placed the order>');
  process.exit(2);
}

const HIDDEN = new Set(['level', 'time', 'service', 'msg', 'correlationId', 'pid', 'hostname', 'req', 'res']);
const lines: { time: string; text: string }[] = [];
for (const service of ['order-service', 'inventory-service', 'dispatcher-service']) {
  let content = '';
  try {
    content = readFileSync(`.run/logs/${service}.log`, 'utf8');
  } catch {
    continue;
  }
  for (const raw of content.split('\n')) {
    if (!raw.includes(`"correlationId":${JSON.stringify(id)}`)) continue;
    const l = JSON.parse(raw) as Record<string, unknown>;
    const fields = Object.entries(l)
      .filter(([k]) => !HIDDEN.has(k))
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
    const time = String(l.time);
    lines.push({ time, text: `${time.slice(11, 23)} ${service.padEnd(18)} ${String(l.msg)}  ${fields.join(' ')}` });
  }
}
if (lines.length === 0) console.log(`no log line carries correlationId ${id}`);
for (const l of lines.sort((a, b) => a.time.localeCompare(b.time))) console.log(l.text);
