/**
 * `make bench`: drives the running system (or starts one with `make up`) with N orders, measures
 * latency from the services' own events and this machine's limits in the same run, checks the
 * final state, and writes JSON, markdown and SVG charts to bench/results/raw/ (not committed).
 * With several rates (--rate 10,20,40,100,max) it runs each in turn and adds one table and one
 * chart of the curve. bench/canonical.ts runs the committed scenarios. See docs/performance.md.
 */
import { RAW_DIR, parseBenchArgs, type BenchPlan } from './args.js';
import { measureRun } from './measure-run.js';
import { benchCommand } from './report.js';
import { toMarkdown } from './report-markdown.js';
import { baseName, writeRunFiles, writeSweepFiles } from './result-files.js';
import { sweepPoint, sweepTable, type SweepPoint } from './sweep.js';

const log = (s: string) => console.error(`[bench] ${s}`);

async function single(plan: BenchPlan): Promise<boolean> {
  const result = await measureRun(plan.runs[0]!, log);
  console.log(toMarkdown(result));
  if (plan.save) {
    const files = writeRunFiles(result, plan.outDir, baseName(result.startedAt, result.label, plan.name));
    log(`wrote ${files.join(', ')}`);
  }
  return result.verification.ok;
}

async function sweep(plan: BenchPlan): Promise<boolean> {
  const startedAt = new Date().toISOString();
  const points: SweepPoint[] = [];
  let machine;
  for (const opts of plan.runs) {
    log(`sweep: ${opts.label}`);
    const result = await measureRun(opts, log);
    machine ??= result.machine;
    points.push(sweepPoint(result));
    // Each point's full report goes with the raw runs; the sweep's own files where asked.
    if (plan.save) writeRunFiles(result, RAW_DIR, baseName(result.startedAt, result.label));
    console.error(sweepTable(points).join('\n'));
  }
  console.log(sweepTable(points).join('\n'));
  if (plan.save) {
    const rates = plan.runs.map((r) => r.rate || 'max').join(',');
    // Only the max point places --orders; the open-loop points place rate × --seconds.
    const maxOrders = plan.runs.find((r) => r.rate === 0)?.orders;
    const command = benchCommand(plan.runs[0]!, { rates, seconds: plan.seconds, maxOrders });
    const files = writeSweepFiles(
      { startedAt, label: plan.label, command, machine: machine!, points },
      plan.outDir,
      baseName(startedAt, plan.label, plan.name),
    );
    log(`wrote ${files.join(', ')}`);
  }
  return points.every((p) => p.ok);
}

async function main(): Promise<void> {
  const plan = parseBenchArgs(process.argv.slice(2), process.env);
  const ok = plan.sweep ? await sweep(plan) : await single(plan);
  if (!ok) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
