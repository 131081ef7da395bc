/**
 * What the system costs doing nothing: CPU of each service and the broker (and MariaDB, Redis)
 * over --seconds (default 60) of a running `make up` that nobody sends anything to, in cores.
 *
 *   npx tsx bench/experiments/idle.ts [--seconds 60]
 */
import { parseArgs } from 'node:util';
import { cpuMeter } from '../cpu.js';

const { values } = parseArgs({ options: { seconds: { type: 'string' } } });
const seconds = Number(values.seconds ?? 60);
const meter = cpuMeter();
await new Promise((r) => setTimeout(r, seconds * 1_000));
const w = meter.stop();
const cores = (s: number) => (s / w.seconds).toFixed(3);
const { bench: _bench, ...system } = w.perProcess;
for (const [name, s] of Object.entries(system)) console.log(`${name.padEnd(20)} ${cores(s)} of a core`);
const services = ['order-service', 'inventory-service', 'dispatcher-service'].reduce(
  (n, k) => n + (system[k] ?? 0),
  0,
);
const brokers = Object.entries(system)
  .filter(([k]) => k.startsWith('kafka'))
  .reduce((n, [, s]) => n + s, 0);
console.log(`services + broker    ${cores(services + brokers)} of a core over ${w.seconds.toFixed(0)} s`);
console.log(`machine busy         ${(w.machineBusy * 100).toFixed(1)} % of all cores (everyone's)`);
