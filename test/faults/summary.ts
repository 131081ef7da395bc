/**
 * Prints the fault suite's figures (the JSON lines its scenarios appended to FAULT_FIGURES):
 * one row per scenario, then the totals. Run by scripts/test-faults.sh after the suite (and by
 * scripts/test-cluster.sh, with its own title as a second argument).
 */
import { readFileSync } from 'node:fs';

interface Row {
  scenario: string;
  attempted?: number;
  accepted?: number;
  refused?: Record<string, number>;
  inFlightAtFault?: number;
  lost?: number;
  doubleAllocated?: number;
  appliedTwice?: number;
  dlq?: number;
  cancelled?: number;
  /** The scenario's cancels (cancellations.ts): asked, answered 200 and 409. */
  cancels?: { planned: number; answered200: number; answered409: number };
  badInputsTried?: number;
  written?: number;
  /** Longest time in which orders were open and none moved on (the cluster suite measures it). */
  longestStallS?: number;
  /** What the fault reported of itself; a hung dependency: its requests' max and p99 duration. */
  fault?: { maxMs?: number; p99Ms?: number };
}

const file = process.argv[2];
const rows: Row[] = file
  ? readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Row)
  : [];
const flows = rows.filter((r) => r.accepted !== undefined);
const badInput = rows.filter((r) => r.badInputsTried !== undefined);
const sum = (pick: (r: Row) => number | undefined, list = flows) =>
  list.reduce((n, r) => n + (pick(r) ?? 0), 0);

const columns: [string, (r: Row) => string | number][] = [
  ['scenario', (r) => r.scenario],
  ['placed', (r) => r.attempted ?? 0],
  ['201', (r) => r.accepted ?? 0],
  [
    'refused',
    (r) =>
      Object.entries(r.refused ?? {})
        .map(([k, v]) => `${k}×${v}`)
        .join(' ') || '-',
  ],
  ['in flight', (r) => r.inFlightAtFault ?? 0],
  ['lost', (r) => r.lost ?? 0],
  ['double-allocated', (r) => r.doubleAllocated ?? 0],
  ['applied twice', (r) => r.appliedTwice ?? 0],
  ['DLQ', (r) => r.dlq ?? 0],
  ['cancelled', (r) => r.cancelled ?? 0],
  // Only when some scenario measured it.
  ...(rows.some((r) => r.longestStallS !== undefined)
    ? [['longest stall s', (r: Row) => r.longestStallS ?? '-'] as [string, (r: Row) => string | number]]
    : []),
  ...(rows.some((r) => r.fault?.maxMs !== undefined)
    ? [
        [
          'hung: max/p99 ms',
          (r: Row) => (r.fault?.maxMs === undefined ? '-' : `${r.fault.maxMs}/${r.fault.p99Ms ?? '-'}`),
        ] as [string, (r: Row) => string | number],
      ]
    : []),
];
const table = [columns.map(([h]) => h), ...flows.map((r) => columns.map(([, f]) => String(f(r))))];
const widths = columns.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));

console.log(`\n${process.argv[3] ?? 'Fault suite figures'}`);
for (const row of table) console.log(`  ${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')}`);
console.log(
  `\n  scenarios run: ${flows.length + badInput.length}` +
    ` | orders answered 201: ${sum((r) => r.accepted)}` +
    ` | lost: ${sum((r) => r.lost)}` +
    ` | double-allocated: ${sum((r) => r.doubleAllocated)}` +
    ` | applied twice: ${sum((r) => r.appliedTwice)}` +
    ` | cancelled: ${sum((r) => r.cancelled)} (cancels asked: ${sum((r) => r.cancels?.planned)},` +
    ` answered 200: ${sum((r) => r.cancels?.answered200)}, 409: ${sum((r) => r.cancels?.answered409)})` +
    ` | bad inputs tried: ${sum((r) => r.badInputsTried, badInput)} (wrote anything: ${sum((r) => r.written, badInput)})`,
);
if (rows.length === 0) console.log('  (no figures: the suite did not get as far as a scenario)');
