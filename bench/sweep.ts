import { formatNumber } from './svg-chart.js';
import { describeMachine, type BenchResult, type Machine } from './report.js';

/** A sweep: the same bench at several rates, summed up as one row per rate. */
export interface SweepPoint {
  /** The rate offered: "10/s", or "max" for the closed loop. */
  offered: string;
  orders: number;
  sustained: number;
  p50: number;
  p99: number;
  /** p50 and p99 of the orders sent in the middle 80 % of the run (absent in older results). */
  middleP50?: number;
  middleP99?: number;
  cpuMsPerOrder: number;
  /** The machine's busy share over the run, all cores, everyone's work. */
  machineBusy: number;
  statementsPerOrder: number;
  ok: boolean;
}

export interface Sweep {
  startedAt: string;
  label: string;
  command: string;
  machine: Machine;
  points: SweepPoint[];
}

export function sweepPoint(r: BenchResult): SweepPoint {
  const p = r.pipeline!;
  return {
    offered: r.options.rate ? `${r.options.rate}/s` : 'max',
    orders: p.accepted,
    sustained: p.throughput.endToEndPerSecond,
    p50: p.latencyMs.postToDispatched.p50,
    p99: p.latencyMs.postToDispatched.p99,
    middleP50: p.latencyMs.postToDispatchedMiddle?.p50,
    middleP99: p.latencyMs.postToDispatchedMiddle?.p99,
    cpuMsPerOrder: p.cpu.perOrder.total,
    machineBusy: p.cpu.machineBusy,
    statementsPerOrder: p.perOrder.statements,
    ok: r.verification.ok,
  };
}

export function sweepTable(points: SweepPoint[]): string[] {
  return [
    '| rate offered | orders | sustained orders/s | POST→DISPATCHED p50 / p99 ms | the same, middle 80 % of the run | CPU ms per order | machine busy | SQL statements per order | final state |',
    '|---|---|---|---|---|---|---|---|---|',
    ...points.map(
      (pt) =>
        `| ${pt.offered} | ${pt.orders} | ${pt.sustained} | ${formatNumber(pt.p50)} / ${formatNumber(pt.p99)} | ${pt.middleP50 === undefined ? '?' : `${formatNumber(pt.middleP50)} / ${formatNumber(pt.middleP99!)}`} | ${pt.cpuMsPerOrder} | ${Math.round(pt.machineBusy * 100)} % | ${pt.statementsPerOrder} | ${pt.ok ? 'OK' : 'FAILED'} |`,
    ),
  ];
}

export function sweepMarkdown(s: Sweep, chartFile: string): string {
  return [
    `# Rate sweep ${s.startedAt} (${s.label})`,
    '',
    `\`${s.command}\``,
    '',
    `Machine: ${describeMachine(s.machine)}; load average at start ${s.machine.loadAverageAtStart.join(' ')}.`,
    '',
    ...sweepTable(s.points),
    '',
    `![p50/p99 and CPU per order against the rate](${chartFile})`,
    '',
  ].join('\n');
}
