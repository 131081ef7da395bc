/**
 * `make bench-canonical`: the committed results, one per scenario, regenerated in one go on a
 * quiet machine. Each scenario is a `bench/run.ts` run of its own, written to
 * bench/results/<scenario>.{json,md} with its charts; then the scenarios' latency CDFs in one
 * chart, and the generated tables of docs/performance.md (between its `canonical:` markers).
 *   npx tsx bench/canonical.ts [--quick] [--only max,rate-40]
 * --quick runs each scenario for a few seconds: a check that everything works, not a measurement.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { updateCanonicalDocs } from './canonical-docs.js';

export const RESULTS_DIR = 'bench/results';

interface Scenario {
  name: string;
  args: string[];
  /** What --quick changes: the same run, a few seconds long. */
  quick: string[];
}

export const SCENARIOS: Scenario[] = [
  { name: 'max', args: ['--orders', '5000', '--big-city', '0'], quick: ['--orders', '400'] },
  {
    name: 'rate-100',
    args: ['--rate', '100', '--seconds', '30', '--no-limits', '--big-city', '0'],
    quick: ['--seconds', '4'],
  },
  {
    name: 'rate-40',
    args: ['--rate', '40', '--seconds', '40', '--no-limits', '--big-city', '0'],
    quick: ['--seconds', '5'],
  },
  {
    name: 'crowded-city',
    args: ['--orders', '0', '--no-limits', '--big-city', '1000', '--big-city-orders', '200'],
    quick: ['--big-city', '100', '--big-city-orders', '20'],
  },
  {
    name: 'sweep',
    args: ['--rate', '10,20,40,100,max', '--seconds', '20', '--orders', '3000'],
    quick: ['--seconds', '3', '--orders', '300'],
  },
];

const ROOT = fileURLToPath(new URL('../', import.meta.url));

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { quick: { type: 'boolean' }, only: { type: 'string' } },
  });
  const only = values.only?.split(',');
  const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
  if (unknown.length)
    throw new Error(
      `unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`,
    );
  for (const s of SCENARIOS.filter((x) => !only || only.includes(x.name))) {
    // Later flags win: --quick's shorten the scenario's own.
    const args = [
      ...s.args,
      ...(values.quick ? s.quick : []),
      '--name',
      s.name,
      '--out',
      RESULTS_DIR,
      '--label',
      s.name,
    ];
    if (values.quick)
      args.push('--note', 'quick run (make bench-canonical ARGS=--quick): a check, not a measurement');
    console.error(
      `[canonical] ${s.name}: npx tsx bench/run.ts ${args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`,
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (run.status !== 0) throw new Error(`scenario ${s.name} failed (exit ${run.status}), see its report`);
  }
  const files = await updateCanonicalDocs(ROOT, RESULTS_DIR);
  console.error(`[canonical] wrote ${files.join(', ')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
