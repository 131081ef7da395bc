import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Db } from '@delivery/common';
import type { RedisClientType } from 'redis';
import type { BenchOptions } from './args.js';
import type { CityCost } from './big-city.js';
import type { ImpliedLimits } from './cost-model.js';
import type { CpuWindow } from './cpu.js';
import type { Limits } from './limits.js';
import type { ReleaseStats } from './releaser.js';
import type { StageRow } from './stages.js';
import type { Summary } from './stats.js';
import type { Verification } from './verify.js';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGb: number;
  kernel: string;
  node: string;
  kafkajs: string;
  kafka: string;
  mariadb: string;
  redis: string;
  gitCommit: string;
  gitDirty: boolean;
  loadAverageAtStart: number[];
}

export interface BenchResult {
  run: string;
  startedAt: string;
  label: string;
  options: BenchOptions;
  machine: Machine;
  pipeline: {
    orders: number;
    accepted: number;
    postErrors: Record<string, number>;
    durationS: number;
    throughput: { postsPerSecond: number; endToEndPerSecond: number; steadyPerSecond: number };
    latencyMs: { post: Summary; postToConfirmed: Summary; postToDispatched: Summary; sendLag: Summary };
    duplicateDispatchedEvents: number;
    releases: Omit<ReleaseStats, 'latencyMs'> & { latencyMs: Summary };
    timeline: { second: number; sent: number; completed: number }[];
    cpu: CpuWindow & {
      cpuMsPerOrder: Record<string, number>;
      /** orders/s the measured CPU per order allows: on all cores, and on what other work left. */
      bound: { cpuMsPerOrder: number; allCores: number; leftByOthers: number };
    };
    mariadbStatusPerOrder: Record<string, number>;
  };
  stages: StageRow[];
  limits?: Limits;
  implied?: ImpliedLimits;
  ratios?: {
    throughputToBottleneck: number;
    throughputToSharedMachine: number;
    throughputToCpuBound: number;
    p50ToFloor: number;
  };
  cityCost?: { control: CityCost; crowded: CityCost };
  verification: Verification;
}

function tryRead(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export async function machineFacts(db: Db, redis: RedisClientType): Promise<Machine> {
  const root = new URL('../', import.meta.url);
  const pom = readFileSync(new URL('infra/kafka/pom.xml', root), 'utf8');
  const kafkajs = JSON.parse(readFileSync(new URL('node_modules/kafkajs/package.json', root), 'utf8')) as {
    version: string;
  };
  const [[mariadb]] = (await db.raw('SELECT VERSION() AS v')) as [{ v: string }[]];
  const info = await redis.info('server');
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    kafkajs: kafkajs.version,
    kafka: /<kafka.version>(.*)<\/kafka.version>/.exec(pom)?.[1] ?? 'unknown',
    mariadb: mariadb?.v ?? 'unknown',
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    gitCommit: tryRead('git', ['rev-parse', '--short', 'HEAD']),
    gitDirty: tryRead('git', ['status', '--porcelain', '--untracked-files=no']) !== '',
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

const ms = (s: Summary) => `${s.p50} / ${s.p95} / ${s.p99} / ${s.max}`;

export function toMarkdown(r: BenchResult): string {
  const p = r.pipeline;
  const o = r.options;
  const lines = [
    `# Bench ${r.startedAt} (${r.label}, run ${r.run})`,
    '',
    `\`npx tsx bench/run.ts --orders ${o.orders} --rate ${o.rate || 'max'} --concurrency ${o.concurrency} --cities ${o.cities} --vehicles ${o.vehiclesPerCity} ${o.holdMs < 0 ? '--no-release' : `--hold-ms ${o.holdMs}`} --products ${o.products} --big-city ${o.bigCityVehicles}${o.limits ? '' : ' --no-limits'}\``,
    '',
    ...(o.note ? [`Note: ${o.note}`, ''] : []),
    `Machine: ${r.machine.cores} cores ${r.machine.cpuModel}, ${r.machine.memoryGb} GB, ${r.machine.kernel}; Node ${r.machine.node}, KafkaJS ${r.machine.kafkajs}, Kafka ${r.machine.kafka}, MariaDB ${r.machine.mariadb}, Redis ${r.machine.redis}; commit ${r.machine.gitCommit}${r.machine.gitDirty ? ' (with uncommitted changes)' : ''}; load average at start ${r.machine.loadAverageAtStart.join(' ')}.`,
    '',
    '## Pipeline',
    '',
    '| metric | value |',
    '|---|---|',
    `| orders accepted / placed | ${p.accepted} / ${p.orders} |`,
    `| POST errors | ${JSON.stringify(p.postErrors)} |`,
    `| throughput sustained: completed / (last outcome − first POST) (orders/s) | ${p.throughput.endToEndPerSecond} |`,
    `| throughput steady, middle 80 % (orders/s) | ${p.throughput.steadyPerSecond} |`,
    `| POSTs/s | ${p.throughput.postsPerSecond} |`,
    `| POST latency ms p50 / p95 / p99 / max | ${ms(p.latencyMs.post)} |`,
    `| POST→CONFIRMED (written) ms p50 / p95 / p99 / max | ${ms(p.latencyMs.postToConfirmed)} |`,
    `| POST→DISPATCHED ms p50 / p95 / p99 / max | ${ms(p.latencyMs.postToDispatched)} |`,
    `| bench send lag ms p50 / p99 | ${p.latencyMs.sendLag.p50} / ${p.latencyMs.sendLag.p99} |`,
    `| releases ok / 409 / failed / retries | ${p.releases.released} / ${p.releases.notAllocated} / ${p.releases.failed} / ${p.releases.retries} |`,
    `| duplicate order.dispatched deliveries | ${p.duplicateDispatchedEvents} |`,
    `| machine busy during the run | ${Math.round(p.cpu.machineBusy * 100)} % of ${r.machine.cores} cores (${p.cpu.otherCpuSeconds} CPU-s not ours) |`,
    '',
    '### CPU per order (ms of CPU, all threads of each process)',
    '',
    `| ${Object.keys(p.cpu.cpuMsPerOrder).join(' | ')} |`,
    `|${Object.keys(p.cpu.cpuMsPerOrder)
      .map(() => '---')
      .join('|')}|`,
    `| ${Object.values(p.cpu.cpuMsPerOrder).join(' | ')} |`,
    '',
    `${p.cpu.bound.cpuMsPerOrder} ms of CPU per order in all: ${r.machine.cores} cores allow ${p.cpu.bound.allCores} orders/s, the cores other work left during the run ${p.cpu.bound.leftByOthers} orders/s.`,
    '',
    `MariaDB global status per order (includes anyone else's load): ${Object.entries(p.mariadbStatusPerOrder)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
    "## Where an order's time goes (ms)",
    '',
    '| stage | p50 | p95 | p99 | max |',
    '|---|---|---|---|---|',
    ...r.stages.map((s) => `| ${s.stage} | ${s.ms.p50} | ${s.ms.p95} | ${s.ms.p99} | ${s.ms.max} |`),
  ];
  if (r.limits && r.implied && r.ratios) {
    const l = r.limits;
    const i = r.implied;
    lines.push(
      '',
      "## This machine's limits, same run",
      '',
      '| limit | rate | latency p50 / p99 ms |',
      '|---|---|---|',
      `| MariaDB single-row tx, 1 connection | ${l.mariadb.serialTx.perSecond}/s | ${l.mariadb.serialTx.latencyMs.p50} / ${l.mariadb.serialTx.latencyMs.p99} |`,
      `| MariaDB single-row tx, ${l.mariadb.concurrentTx.concurrency} connections | ${l.mariadb.concurrentTx.perSecond}/s | ${l.mariadb.concurrentTx.latencyMs.p50} / ${l.mariadb.concurrentTx.latencyMs.p99} |`,
      `| MariaDB autocommit insert, ${l.mariadb.concurrentAutocommit.concurrency} connections | ${l.mariadb.concurrentAutocommit.perSecond}/s | ${l.mariadb.concurrentAutocommit.latencyMs.p50} / ${l.mariadb.concurrentAutocommit.latencyMs.p99} |`,
      `| Kafka produce (acks=all) → project consumer loop, one at a time | — | ${l.kafka.roundTrip.p50} / ${l.kafka.roundTrip.p99} |`,
      `| Kafka produce ack alone | — | ${l.kafka.produceAck.p50} / ${l.kafka.produceAck.p99} |`,
      `| Kafka relay-style batches of 200, produce | ${l.kafka.producePerSecond} msg/s | |`,
      `| Kafka relay-style batches → project consumer loop, end to end | ${l.kafka.endToEndPerSecond} msg/s | |`,
      `| Redis SET NX PX, 1 at a time | ${l.redis.setNxSerial.perSecond}/s | ${l.redis.setNxSerial.latencyMs.p50} / ${l.redis.setNxSerial.latencyMs.p99} |`,
      `| Redis SET NX PX, ${l.redis.setNxConcurrent.concurrency} concurrent | ${l.redis.setNxConcurrent.perSecond}/s | ${l.redis.setNxConcurrent.latencyMs.p50} / ${l.redis.setNxConcurrent.latencyMs.p99} |`,
      `| Redis compare-and-delete (EVAL) | — | ${l.redis.compareAndDelete.p50} / ${l.redis.compareAndDelete.p99} |`,
      `| HTTP GET /healthz on order-service, 1 at a time | ${l.http.healthzSerial.perSecond}/s | ${l.http.healthzSerial.latencyMs.p50} / ${l.http.healthzSerial.latencyMs.p99} |`,
      `| HTTP GET /healthz on order-service, ${l.http.healthzConcurrent.concurrency} concurrent | ${l.http.healthzConcurrent.perSecond}/s | ${l.http.healthzConcurrent.latencyMs.p50} / ${l.http.healthzConcurrent.latencyMs.p99} |`,
      '',
      `Per order: ${i.statementsPerOrder} SQL statements (MariaDB Questions over the run ÷ orders; ${i.relayCyclesPerOrder} relay rounds), 4 Kafka hops, 2 Redis commands, ${r.options.holdMs >= 0 ? 3 : 1} HTTP requests.`,
      '',
      '| implied limit (orders/s) | value |',
      '|---|---|',
      ...Object.entries(i.byResource).map(([k, v]) => `| ${k} alone | ${v} |`),
      `| bottleneck | ${i.bottleneck.resource} ${i.bottleneck.ordersPerSecond} |`,
      `| all four sharing the machine, 1/Σ(cost/rate) | ${i.sharedMachine} |`,
      `| POST→DISPATCHED floor p50 (ms) | ${i.latencyFloorP50Ms} |`,
      '',
      `**Ratios** (sustained throughput): to the bottleneck ${r.ratios.throughputToBottleneck}; to the shared-machine limit ${r.ratios.throughputToSharedMachine}; to the CPU bound left by others ${r.ratios.throughputToCpuBound}; POST→DISPATCHED p50 / floor ${r.ratios.p50ToFloor} (meaningful below saturation only).`,
    );
  }
  if (r.cityCost) {
    const rows = [r.cityCost.control, r.cityCost.crowded];
    lines.push(
      '',
      "## Redis cost of an allocation (one order at a time, MONITOR on the city's lock keys)",
      '',
      '| city | vehicles | busy | allocations | Redis commands per allocation, median / max | per release, median / max | outside those windows (reconciler) | all commands seen | POST→DISPATCHED p50 / p99 ms | MariaDB row reads / order (global) |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...rows.map(
        (c) =>
          `| ${c.city} | ${c.vehicles} | ${c.busy} | ${c.allocations} | ${c.perAllocation.median} / ${c.perAllocation.max} | ${c.perRelease.median} / ${c.perRelease.max} | ${c.outsideWindows} | ${JSON.stringify(c.redisCommands)} | ${c.postToDispatchedMs.p50} / ${c.postToDispatchedMs.p99} | ${c.mariadbRowReadsPerOrder} |`,
      ),
    );
  }
  const v = r.verification;
  lines.push(
    '',
    '## Final state',
    '',
    `${v.ok ? 'OK' : 'FAILED'}: ${v.accepted} accepted, statuses ${JSON.stringify(v.statuses)}, REJECTED ${v.rejected} (stock dictates ${v.expectedRejected}), lost ${v.lost}, unacknowledged ${v.unacknowledged}, stock consistent ${v.stockConsistent}, orders with two assignments ${v.ordersWithTwoAssignments}, vehicles with two ACTIVE ${v.vehiclesWithTwoActive}, overlapping assignments ${v.overlappingAssignments}, vehicle mismatches ${v.vehicleMismatches}, still waiting ${v.stillWaiting}, locks left ${v.locksLeft}.`,
    ...v.problems.map((x) => `- ${x}`),
    '',
  );
  return lines.join('\n');
}

export function writeResult(r: BenchResult, dir: string): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, '-');
  const base = path.join(dir, `${stamp}-${r.label}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(`${base}.md`, toMarkdown(r));
  return { json: `${base}.json`, md: `${base}.md` };
}
