import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Db } from '@delivery/common';
import type { RedisClientType } from 'redis';
import type { BenchOptions } from './args.js';
import type { CrowdedCity } from './big-city.js';
import type { PerOrder } from './counters.js';
import type { CpuPerOrder, CpuWindow } from './cpu.js';
import type { ImpliedLimits } from './implied-limits.js';
import type { Limits } from './limits.js';
import type { ReleaseStats } from './releaser.js';
import type { StageRow } from './stages.js';
import type { Summary } from './stats.js';
import type { Verification } from './verify.js';

/** What a result file holds: every figure of one run, with the machine and code it ran on. */
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

export interface PipelineResult {
  orders: number;
  accepted: number;
  postErrors: Record<string, number>;
  durationS: number;
  throughput: { postsPerSecond: number; endToEndPerSecond: number; steadyPerSecond: number };
  latencyMs: {
    post: Summary;
    postToConfirmed: Summary;
    postToDispatched: Summary;
    /** POST→DISPATCHED of the orders sent in the middle 80 % of the run (no first second, no drain). */
    postToDispatchedMiddle?: Summary;
    sendLag: Summary;
  };
  /** The same latencies at each of CDF_PERCENTS (stats.ts), for the CDF chart. */
  latencyCdfMs: { post: number[]; postToConfirmed: number[]; postToDispatched: number[] };
  duplicateDispatchedEvents: number;
  releases: Omit<ReleaseStats, 'latencyMs'> & { latencyMs: Summary };
  timeline: { second: number; sent: number; completed: number }[];
  cpu: CpuWindow & { perOrder: CpuPerOrder };
  perOrder: PerOrder;
}

export interface BenchResult {
  run: string;
  startedAt: string;
  label: string;
  /** The command that repeats the run. */
  command: string;
  options: BenchOptions;
  machine: Machine;
  pipeline?: PipelineResult;
  stages: StageRow[];
  limits?: Limits;
  implied?: ImpliedLimits;
  ratios?: {
    /** Sustained throughput ÷ what the measured CPU per order allows on the cores others left. */
    throughputToCpuBound: number;
    throughputToBottleneck?: number;
    throughputToSharedMachine?: number;
    p50ToFloor?: number;
  };
  cityCost?: CrowdedCity;
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

/**
 * The command that repeats a run, every setting spelled out (so defaults changing later do not
 * matter); for a sweep, its rates and seconds per rate in place of the one rate.
 */
export function benchCommand(
  o: BenchOptions,
  sweep?: { rates: string; seconds: number; maxOrders?: number },
): string {
  const load = sweep
    ? [
        `--rate ${sweep.rates}`,
        `--seconds ${sweep.seconds}`,
        sweep.maxOrders ? `--orders ${sweep.maxOrders}` : '',
      ]
    : [`--orders ${o.orders}`, o.orders > 0 ? `--rate ${o.rate || 'max'}` : ''];
  const pipeline = [
    `--concurrency ${o.concurrency}`,
    `--cities ${o.cities} --vehicles ${o.vehiclesPerCity}`,
    o.holdMs < 0 ? '--no-release' : `--hold-ms ${o.holdMs}`,
    `--products ${o.products}`,
    o.stockPerProduct === undefined ? '' : `--stock ${o.stockPerProduct}`,
  ];
  const flags = [
    ...load,
    ...(o.orders > 0 ? pipeline : []),
    sweep ? '' : `--big-city ${o.bigCityVehicles}`,
    o.bigCityVehicles > 0 ? `--big-city-orders ${o.bigCityOrders}` : '',
    o.limits || sweep ? '' : '--no-limits',
  ];
  return `make bench ARGS="${flags.filter(Boolean).join(' ')}"`;
}

/** What the run did, in a few words: chart titles and tables. */
export function describeRun(o: BenchOptions): string {
  const n = o.orders.toLocaleString('en-US');
  if (o.orders === 0) return `crowded city: ${o.bigCityVehicles.toLocaleString('en-US')} vehicles, 1 free`;
  const fleet = `${o.cities} cities × ${o.vehiclesPerCity} vehicles, ${o.holdMs < 0 ? 'no releases' : `released after ${o.holdMs} ms`}`;
  return o.rate > 0
    ? `open loop ${o.rate} orders/s, ${n} orders, ${fleet}`
    : `as fast as it goes, ${n} orders (${o.concurrency} clients), ${fleet}`;
}

export function describeMachine(m: Machine): string {
  return `${m.cores} cores ${m.cpuModel}, Node ${m.node}; commit ${m.gitCommit}${m.gitDirty ? ' (uncommitted changes)' : ''}`;
}
