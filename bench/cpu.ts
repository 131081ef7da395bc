import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { KAFKA_BROKERS, SERVICES_RUN_DIR } from './system.js';

/** CPU seconds used by the processes of the system, read from /proc: where a 2-core machine's time goes. */
const TICK = 100; // USER_HZ on Linux
const RUN_DIR = fileURLToPath(new URL('../.run/', import.meta.url));
const SERVICES_PIDS = SERVICES_RUN_DIR ? `${SERVICES_RUN_DIR}/` : RUN_DIR;

function pidFile(name: string, dir = RUN_DIR): number | undefined {
  try {
    return Number(readFileSync(`${dir}${name}.pid`, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

function pidOf(program: string): number | undefined {
  for (const [cmd, args] of [
    ['pidof', ['-s', program]],
    ['pgrep', ['-o', '-x', program]],
  ] as const) {
    try {
      const pid = Number(
        execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
      );
      if (pid) return pid;
    } catch {
      // not found by this tool; try the next
    }
  }
  return undefined;
}

/** The process listening on a local TCP port, from `ss` (the brokers of a cluster have no pid file we know). */
function listenerPid(port: string): number | undefined {
  try {
    const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
    return Number(/pid=(\d+)/.exec(out)?.[1]) || undefined;
  } catch {
    return undefined;
  }
}

/** The broker JVMs: `kafka` for the single broker, `kafka-<n>` for each node of a cluster. */
function brokerPids(): Record<string, number | undefined> {
  const port = (broker: string) => broker.slice(broker.lastIndexOf(':') + 1);
  if (KAFKA_BROKERS.length === 1) return { kafka: pidFile('kafka') ?? listenerPid(port(KAFKA_BROKERS[0]!)) };
  return Object.fromEntries(KAFKA_BROKERS.map((b, i) => [`kafka-${i + 1}`, listenerPid(port(b))]));
}

export function systemPids(): Record<string, number | undefined> {
  return {
    'order-service': pidFile('order-service', SERVICES_PIDS),
    'inventory-service': pidFile('inventory-service', SERVICES_PIDS),
    'dispatcher-service': pidFile('dispatcher-service', SERVICES_PIDS),
    ...brokerPids(),
    mariadb: pidOf('mariadbd') ?? pidOf('mysqld'),
    redis: pidOf('redis-server'),
    bench: process.pid,
  };
}

function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime is the 14th, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICK;
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of the whole machine: everyone's load, including other people's tests. */
function machine(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((s, x) => s + x, 0);
  return { busy: total - idle, total };
}

export interface CpuWindow {
  seconds: number;
  /** CPU seconds per process over the window. */
  perProcess: Record<string, number>;
  /** The machine's busy share over the window, 0..1 of all cores. */
  machineBusy: number;
  /** CPU seconds the listed processes do not account for: other work on the machine. */
  otherCpuSeconds: number;
}

export function cpuMeter() {
  const pids = systemPids();
  const start = {
    at: Date.now(),
    m: machine(),
    p: Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, pid && cpuSeconds(pid)])),
  };
  return {
    stop(): CpuWindow {
      const m = machine();
      const seconds = (Date.now() - start.at) / 1_000;
      const perProcess: Record<string, number> = {};
      for (const [k, pid] of Object.entries(pids)) {
        const a = start.p[k];
        const b = pid ? cpuSeconds(pid) : undefined;
        if (a !== undefined && b !== undefined) perProcess[k] = Math.round((b - a) * 100) / 100;
      }
      const busySeconds = (m.busy - start.m.busy) / TICK;
      const ours = Object.values(perProcess).reduce((s, x) => s + x, 0);
      return {
        seconds,
        perProcess,
        machineBusy:
          Math.round(((m.busy - start.m.busy) / Math.max(1, m.total - start.m.total)) * 1000) / 1000,
        otherCpuSeconds: Math.round((busySeconds - ours) * 100) / 100,
      };
    },
  };
}

export interface CpuPerOrder {
  /** ms of CPU per order, by process. */
  byProcess: Record<string, number>;
  total: number;
  /** orders/s that cost allows: on all cores, and on the cores other work left during the run. */
  allCores: number;
  leftByOthers: number;
}

export function cpuPerOrder(w: CpuWindow, orders: number): CpuPerOrder {
  const n = Math.max(1, orders);
  const byProcess = Object.fromEntries(
    Object.entries(w.perProcess).map(([k, s]) => [k, Math.round((s / n) * 1_000 * 100) / 100]),
  );
  const total = Object.values(byProcess).reduce((a, b) => a + b, 0);
  const cores = os.cpus().length;
  return {
    byProcess,
    total: Math.round(total * 100) / 100,
    allCores: Math.round((cores * 1_000) / total),
    leftByOthers: Math.round(((cores - w.otherCpuSeconds / w.seconds) * 1_000) / total),
  };
}
