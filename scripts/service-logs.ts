import { readFileSync } from 'node:fs';

export const SERVICE_NAMES = ['order-service', 'inventory-service', 'dispatcher-service'] as const;

export interface LogLine {
  service: string;
  time: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** The JSON lines `make up`'s services wrote to .run/logs, all three merged in time order. */
export function readServiceLogs(keep: (line: Record<string, unknown>) => boolean): LogLine[] {
  const lines: LogLine[] = [];
  for (const service of SERVICE_NAMES) {
    let content = '';
    try {
      content = readFileSync(`.run/logs/${service}.log`, 'utf8');
    } catch {
      continue; // that service has not run yet
    }
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
