import { readFileSync, readdirSync } from 'node:fs';

export const SERVICE_NAMES = ['order-service', 'inventory-service', 'dispatcher-service'] as const;

export interface LogLine {
  service: string;
  time: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** Log files of every instance `make up` ran (order-service.log, order-service-2.log, …). */
const INSTANCE_LOG = new RegExp(`^(${SERVICE_NAMES.join('|')})(-\\d+)?\\.log$`);

/**
 * The JSON lines `make up`'s services wrote to .run/logs, every instance of all three merged in
 * time order; a line of instance n ≥ 2 is named after it (order-service-2).
 */
export function readServiceLogs(keep: (line: Record<string, unknown>) => boolean): LogLine[] {
  const lines: LogLine[] = [];
  let files: string[] = [];
  try {
    files = readdirSync('.run/logs').filter((f) => INSTANCE_LOG.test(f));
  } catch {
    // no service has run yet
  }
  for (const file of files) {
    const service = file.slice(0, -'.log'.length);
    const content = readFileSync(`.run/logs/${file}`, 'utf8');
    for (const raw of content.split('\n')) {
      if (!raw.startsWith('{')) continue;
      const fields = JSON.parse(raw) as Record<string, unknown>;
      if (keep(fields)) lines.push({ service, time: String(fields.time), msg: String(fields.msg), fields });
    }
  }
  return lines.sort((a, b) => a.time.localeCompare(b.time));
}

/** `HH:MM:SS.mmm service message  key=value ...` for the chosen fields. */
export function formatLogLine(line: LogLine, keys: string[]): string {
  const fields = keys
    .filter((k) => line.fields[k] !== undefined)
    .map((k) => {
      const v = line.fields[k];
      return `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`;
    });
  return `${line.time.slice(11, 23)} ${line.service.padEnd(18)} ${line.msg}  ${fields.join(' ')}`;
}
