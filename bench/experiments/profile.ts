/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`): self time by package/file and the top
 * functions, so "where does the CPU go" has an answer in numbers.
 *   npx tsx bench/experiments/profile.ts /tmp/prof/CPU.2026....cpuprofile [top]
 */
import { readFileSync } from 'node:fs';

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

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: npx tsx bench/experiments/profile.ts <file.cpuprofile> [top]');
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++)
  self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
const total = [...self.values()].reduce((s, x) => s + x, 0);
const byArea = new Map<string, number>();
const byFn = new Map<string, number>();
let idle = 0;
for (const [id, us] of self) {
  const n = byId.get(id)!;
  const name = n.callFrame.functionName || '(anonymous)';
  if (name === '(idle)') {
    idle += us;
    continue;
  }
  const a = name === '(garbage collector)' ? '(gc)' : area(n.callFrame.url);
  byArea.set(a, (byArea.get(a) ?? 0) + us);
  const key = `${name} ${a}:${n.callFrame.lineNumber + 1}`;
  byFn.set(key, (byFn.get(key) ?? 0) + us);
}
const busy = total - idle;
const pct = (us: number) => `${((us / busy) * 100).toFixed(1)}%`;
console.log(
  `profile ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(2)} s CPU (main thread)`,
);
console.log('\nself time by package / file:');
for (const [a, us] of [...byArea].sort((x, y) => y[1] - x[1]).slice(0, 25))
  console.log(`  ${pct(us).padStart(6)}  ${a}`);
console.log('\ntop functions by self time:');
for (const [f, us] of [...byFn].sort((x, y) => y[1] - x[1]).slice(0, Number(topArg ?? 30)))
  console.log(`  ${pct(us).padStart(6)}  ${f}`);
