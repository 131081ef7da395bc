/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`), so "where does the CPU go" has an answer in
 * numbers: busy time by client (each sample charged to the nearest library on its stack, leaf
 * first, so a socket write counts for the SQL or Kafka client that made it), then self time by
 * package / file and the top functions. --skip S leaves out the first S seconds (start-up).
 *   npx tsx bench/experiments/profile.ts /tmp/prof/CPU.2026....cpuprofile [--skip 30] [--top 30]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function area(url: string): string {
  if (!url) return '(native/gc/idle)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url;
  const m = /\/(common|order-service|inventory-service|dispatcher-service)\/src\/(.*)$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url;
}

/** Packages by the client they belong to (their own dependencies included). */
const CLIENTS: [string, RegExp][] = [
  ['Kafka client (KafkaJS)', /^kafkajs$/],
  [
    'SQL client (knex, mysql2)',
    /^(knex|mysql2|sql-escaper|tarn|denque|lru\.min|named-placeholders|seq-queue|iconv-lite|long)$/,
  ],
  [
    'logging (pino)',
    /^(pino|pino-http|sonic-boom|pino-std-serializers|fast-redact|quick-format-unescaped|safe-stable-stringify|on-exit-leak-free)$/,
  ],
  ['Redis client', /^@redis\//],
  [
    'HTTP (Express, node:http, undici)',
    /^(express|router|body-parser|raw-body|finalhandler|send|on-finished|qs|undici|type-is|content-type|etag|fresh|proxy-addr|accepts|negotiator|node:_http_\w+|node:internal\/deps\/undici\/.*)$/,
  ],
  ['zod', /^zod$/],
  ['prom-client', /^prom-client$/],
  ["the services' own code", /^(common|order-service|inventory-service|dispatcher-service)\//],
];

function clientOf(id: number, byId: Map<number, Node>, parent: Map<number, number>): string {
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const a = area(byId.get(cur)!.callFrame.url);
    for (const [client, re] of CLIENTS) if (re.test(a)) return client;
  }
  const name = byId.get(id)!.callFrame.functionName;
  return name === '(garbage collector)' ? 'GC' : 'Node internals, timers, V8';
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { skip: { type: 'string' }, top: { type: 'string' } },
});
const file = positionals[0];
if (!file)
  throw new Error('usage: npx tsx bench/experiments/profile.ts <file.cpuprofile> [--skip S] [--top N]');
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const skipUs = Number(values.skip ?? 0) * 1e6;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const self = new Map<number, number>();
let clock = 0;
for (let i = 0; i < p.samples.length; i++) {
  clock += p.timeDeltas[i] ?? 0;
  if (clock < skipUs) continue;
  self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
}
const byClient = new Map<string, number>();
const byArea = new Map<string, number>();
const byFn = new Map<string, number>();
let idle = 0;
let total = 0;
for (const [id, us] of self) {
  total += us;
  const n = byId.get(id)!;
  const name = n.callFrame.functionName || '(anonymous)';
  if (name === '(idle)') {
    idle += us;
    continue;
  }
  const client = clientOf(id, byId, parent);
  byClient.set(client, (byClient.get(client) ?? 0) + us);
  const a = name === '(garbage collector)' ? '(gc)' : area(n.callFrame.url);
  byArea.set(a, (byArea.get(a) ?? 0) + us);
  const key = `${name} ${a}:${n.callFrame.lineNumber + 1}`;
  byFn.set(key, (byFn.get(key) ?? 0) + us);
}
const busy = total - idle;
const pct = (us: number) => `${((us / busy) * 100).toFixed(1)}%`;
const sorted = (m: Map<string, number>) => [...m].sort((x, y) => y[1] - x[1]);
console.log(
  `profile ${(total / 1e6).toFixed(1)} s (after skipping ${values.skip ?? 0} s), busy ${(busy / 1e6).toFixed(2)} s CPU (main thread)`,
);
console.log('\nby client (nearest library on the stack):');
for (const [c, us] of sorted(byClient)) console.log(`  ${pct(us).padStart(6)}  ${c}`);
console.log('\nself time by package / file:');
for (const [a, us] of sorted(byArea).slice(0, 25)) console.log(`  ${pct(us).padStart(6)}  ${a}`);
console.log('\ntop functions by self time:');
for (const [f, us] of sorted(byFn).slice(0, Number(values.top ?? 30)))
  console.log(`  ${pct(us).padStart(6)}  ${f}`);
