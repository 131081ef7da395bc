/**
 * Samples the row count and on-disk size of every table of the three databases `make up` runs on,
 * every --every seconds, until SIGTERM/SIGINT (or --samples N); then prints one markdown table:
 * per table the first sample, the largest, and the last. bench/retention.sh runs it beside a long
 * bench to show which tables the retention job bounds and which grow with the business data.
 *
 *   npx tsx bench/table-sizes.ts [--every 30] [--samples N] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createDb } from '@delivery/common';
import { DATABASES, MYSQL_URL } from './system.js';

const { values } = parseArgs({
  options: { every: { type: 'string' }, samples: { type: 'string' }, json: { type: 'string' } },
});
const everyMs = Number(values.every ?? 30) * 1_000;
const maxSamples = values.samples ? Number(values.samples) : Infinity;

interface Sample {
  at: string;
  /** `<database>.<table>` → exact rows (COUNT(*)) and InnoDB's data + index bytes. */
  tables: Record<string, { rows: number; bytes: number }>;
}

// COUNT(*) of a large table on a busy server can take longer than the services' statement bound.
const db = createDb({ url: MYSQL_URL, database: 'mysql', poolMax: 1, statementTimeoutMs: 300_000 });
const samples: Sample[] = [];

async function sample(): Promise<Sample> {
  const [info] = (await db.raw(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name, DATA_LENGTH + INDEX_LENGTH AS bytes
       FROM information_schema.TABLES
      WHERE TABLE_SCHEMA IN (?) AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME NOT LIKE 'knex%'
      ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    [Object.values(DATABASES)],
  )) as [{ db: string; name: string; bytes: number }[]];
  const tables: Sample['tables'] = {};
  for (const t of info) {
    const [[row]] = (await db.raw('SELECT COUNT(*) AS n FROM ??.??', [t.db, t.name])) as [{ n: number }[]];
    tables[`${t.db}.${t.name}`] = { rows: Number(row!.n), bytes: Number(t.bytes) };
  }
  return { at: new Date().toISOString(), tables };
}

const mb = (bytes: number) => (bytes / 1_048_576).toFixed(1);

function report(): string {
  const first = samples[0]!;
  const last = samples.at(-1)!;
  const lines = [
    `${samples.length} samples, ${first.at} → ${last.at}, every ${everyMs / 1_000} s`,
    '',
    '| table | rows first | rows max | rows last | MB last |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const name of Object.keys(last.tables)) {
    const rows = samples.map((s) => s.tables[name]?.rows ?? 0);
    lines.push(
      `| ${name} | ${rows[0]} | ${Math.max(...rows)} | ${rows.at(-1)} | ${mb(last.tables[name]!.bytes)} |`,
    );
  }
  return lines.join('\n');
}

let stopping = false;
const stop = () => {
  stopping = true;
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

try {
  while (!stopping && samples.length < maxSamples) {
    const s = await sample();
    samples.push(s);
    const brief = Object.entries(s.tables)
      .filter(([name]) => /outbox|release_requests|\.orders$/.test(name))
      .map(([name, t]) => `${name} ${t.rows}`)
      .join(', ');
    console.error(`[table-sizes] ${s.at}: ${brief}`);
    const until = Date.now() + everyMs;
    while (!stopping && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  }
  if (samples.length > 0) {
    console.log(report());
    if (values.json) writeFileSync(values.json, JSON.stringify(samples, null, 2));
  }
} finally {
  await db.destroy();
}
