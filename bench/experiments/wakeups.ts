/**
 * How often each process of the system is woken: voluntary context switches of all its threads
 * (a thread that went to sleep waiting for a socket, a lock or a timer, counted when it wakes),
 * per second over --seconds (default 30), with CPU per process beside them. Run it next to a
 * bench run (`make up`, then `npx tsx bench/run.ts --rate 20 …` in another shell) and divide by
 * the orders per second to get wake-ups per order.
 *
 *   npx tsx bench/experiments/wakeups.ts [--seconds 30]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cpuMeter, systemPids } from '../cpu.js';

const { values } = parseArgs({ options: { seconds: { type: 'string' } } });
const seconds = Number(values.seconds ?? 30);

/** Voluntary context switches of every thread of `pid`, summed (threads that ended are lost). */
function switches(pid: number): number {
  let sum = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
      sum += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      // the thread ended meanwhile
    }
  }
  return sum;
}

const pids = Object.entries(systemPids()).filter(
  (e): e is [string, number] => e[1] !== undefined && e[0] !== 'bench',
);
const before = new Map(pids.map(([name, pid]) => [name, switches(pid)]));
const meter = cpuMeter();
await new Promise((r) => setTimeout(r, seconds * 1_000));
const w = meter.stop();
console.log('process              wake-ups/s   CPU ms/s');
for (const [name, pid] of pids) {
  const rate = (switches(pid) - before.get(name)!) / w.seconds;
  const cpu = ((w.perProcess[name] ?? 0) / w.seconds) * 1_000;
  console.log(`${name.padEnd(20)} ${rate.toFixed(0).padStart(10)} ${cpu.toFixed(0).padStart(10)}`);
}
