import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import { cdfSeries, latencyCdfChart } from './charts.js';
import { describeMachine, type BenchResult } from './report.js';
import { formatNumber, type Series } from './svg-chart.js';
import { sweepTable, type Sweep } from './sweep.js';

/**
 * From the canonical result files: one latency chart of every scenario, and the tables of
 * docs/performance.md, each between `<!-- canonical:NAME -->` and `<!-- /canonical:NAME -->`,
 * so the figures the doc quotes are the committed results' and never copied by hand.
 */
const PIPELINES = [
  ['rate-40', '40 orders/s'],
  ['rate-100', '100 orders/s'],
  ['max', 'as fast as it goes'],
] as const;

type Results = Partial<Record<string, BenchResult>>;
const fmt = (v: number | undefined) => (v === undefined ? '?' : v.toLocaleString('en-US'));
const ms = (v: number) => formatNumber(v);

function figures(r: Results): string[] {
  const known = PIPELINES.filter(([name]) => r[name]?.pipeline);
  const first = known.map(([n]) => r[n]!)[0] ?? r['crowded-city'];
  const notes = [...new Set(Object.values(r).flatMap((x) => (x?.options.note ? [x.options.note] : [])))];
  return [
    ...(first ? [`Measured ${first.startedAt.slice(0, 10)} on ${describeMachine(first.machine)}.`, ''] : []),
    ...notes.map((n) => `**${n}**`),
    ...(notes.length ? [''] : []),
    '| scenario | sustained orders/s | POST→DISPATCHED p50 / p99 ms | CPU ms per order | sustained ÷ CPU bound | per order: SQL statements / HTTP requests / events | final state |',
    '|---|---|---|---|---|---|---|',
    ...known.map(([name, title]) => {
      const x = r[name]!;
      const p = x.pipeline!;
      const per = p.perOrder;
      return `| [${title}](../bench/results/${name}.md): ${fmt(p.accepted)} orders | ${p.throughput.endToEndPerSecond} | ${ms(p.latencyMs.postToDispatched.p50)} / ${ms(p.latencyMs.postToDispatched.p99)} | ${p.cpu.perOrder.total} | ${x.ratios?.throughputToCpuBound ?? '?'} | ${per.statements} / ${fmt(per.httpRequests)} / ${fmt(per.kafkaMessages)} | ${x.verification.ok ? 'OK' : 'FAILED'} |`;
    }),
  ];
}

function cpu(r: Results): string[] {
  const known = PIPELINES.filter(([name]) => r[name]?.pipeline).reverse();
  const processes = [...new Set(known.flatMap(([n]) => Object.keys(r[n]!.pipeline!.cpu.perOrder.byProcess)))];
  return [
    `| ms of CPU per order | ${processes.join(' | ')} | all |`,
    `|---|${processes.map(() => '---').join('|')}|---|`,
    ...known.map(([n, title]) => {
      const c = r[n]!.pipeline!.cpu.perOrder;
      return `| ${title} | ${processes.map((p) => c.byProcess[p] ?? '?').join(' | ')} | **${c.total}** |`;
    }),
  ];
}

function stages(r: Results): string[] {
  const known = PIPELINES.filter(([name]) => r[name]?.stages.length);
  const rows = r[known[0]?.[0] ?? '']?.stages ?? [];
  return [
    `| stage (ms, p50 / p99) | ${known.map(([, t]) => t).join(' | ')} |`,
    `|---|${known.map(() => '---').join('|')}|`,
    ...rows.map((row, i) => {
      const cells = known.map(([n]) => {
        const s = r[n]!.stages[i]?.ms;
        return s ? `${ms(s.p50)} / ${ms(s.p99)}` : '?';
      });
      return `| ${row.stage} | ${cells.join(' | ')} |`;
    }),
  ];
}

function limits(r: Results): string[] {
  const x = r.max;
  const l = x?.limits;
  const i = x?.implied;
  const p = x?.pipeline;
  if (!l || !i || !p) return ['(run the `max` scenario with limits)'];
  return [
    '| resource | measured limit (same run) | an order needs | that alone allows, orders/s |',
    '|---|---|---|---|',
    `| MariaDB, autocommit inserts on ${l.mariadb.concurrentAutocommit.concurrency} connections | ${fmt(l.mariadb.concurrentAutocommit.perSecond)} statements/s | ${i.perOrder.statements} statements | ${fmt(i.byResource.mariadb)} |`,
    `| Kafka, relay-style batches → project consumer loop | ${fmt(l.kafka.endToEndPerSecond)} msg/s | ${i.perOrder.kafkaMessages} messages | ${fmt(i.byResource.kafka)} |`,
    `| Redis, SET NX PX on ${l.redis.setNxConcurrent.concurrency} connections | ${fmt(l.redis.setNxConcurrent.perSecond)}/s | ${i.perOrder.redisCommands} commands | ${fmt(i.byResource.redis)} |`,
    `| HTTP, GET /healthz on ${l.http.healthzConcurrent.concurrency} connections | ${fmt(l.http.healthzConcurrent.perSecond)}/s | ${i.perOrder.httpRequests} requests | ${fmt(i.byResource.http)} |`,
    `| the four sharing the machine, 1 / Σ(need / limit) | | | ${fmt(i.sharedMachine)} |`,
    `| CPU, on the cores other work left | ${x.machine.cores} cores | ${p.cpu.perOrder.total} ms | ${fmt(p.cpu.perOrder.leftByOthers)} |`,
  ];
}

function city(r: Results): string[] {
  const c = r['crowded-city']?.cityCost;
  if (!c) return ['(run the `crowded-city` scenario)'];
  return [
    '| city | vehicles (busy) | Redis commands per allocation, median / max | per release, median / max | POST→DISPATCHED p50 / p99 ms | MariaDB rows read per order |',
    '|---|---|---|---|---|---|',
    ...[c.control, c.crowded].map(
      (x) =>
        `| ${x.vehicles === 1 ? 'control' : 'crowded'} | ${fmt(x.vehicles)} (${fmt(x.busy)}) | ${x.perAllocation.median} / ${x.perAllocation.max} | ${x.perRelease.median} / ${x.perRelease.max} | ${ms(x.postToDispatchedMs.p50)} / ${ms(x.postToDispatchedMs.p99)} | ${fmt(x.mariadbRowReadsPerOrder)} |`,
    ),
  ];
}

function replaceBlock(text: string, name: string, lines: string[]): string {
  const open = `<!-- canonical:${name} -->`;
  const close = `<!-- /canonical:${name} -->`;
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  if (a < 0 || b < a) {
    console.error(`[canonical] docs: no ${open} … ${close} block, left as is`);
    return text;
  }
  return `${text.slice(0, a + open.length)}\n\n${lines.join('\n')}\n\n${text.slice(b)}`;
}

function allLatencies(r: Results, dir: string): string {
  const series: Series[] = PIPELINES.filter(([n]) => r[n]?.pipeline).map(([n, title]) =>
    cdfSeries(title, r[n]!.pipeline!.latencyCdfMs.postToDispatched),
  );
  const c = r['crowded-city']?.cityCost;
  if (c)
    series.push(
      cdfSeries(
        `one at a time, ${fmt(c.crowded.busy)} of ${fmt(c.crowded.vehicles)} vehicles busy`,
        c.crowded.postToDispatchedCdfMs,
        true,
      ),
    );
  const any = Object.values(r).find(Boolean);
  const file = path.join(dir, 'latency-cdf.svg');
  writeFileSync(
    file,
    latencyCdfChart(
      'POST → DISPATCHED latency, by scenario',
      series,
      `${any ? describeMachine(any.machine) : ''}; make bench-canonical`,
    ),
  );
  return file;
}

export async function updateCanonicalDocs(root: string, dir: string): Promise<string[]> {
  const read = <T>(name: string): T | undefined => {
    const file = path.join(root, dir, `${name}.json`);
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined;
  };
  const r: Results = Object.fromEntries(
    ['max', 'rate-100', 'rate-40', 'crowded-city'].map((n) => [n, read<BenchResult>(n)]),
  );
  const sweep = read<Sweep>('sweep');
  const chart = allLatencies(r, path.join(root, dir));
  const doc = path.join(root, 'docs/performance.md');
  let text = readFileSync(doc, 'utf8');
  text = replaceBlock(text, 'figures', figures(r));
  text = replaceBlock(text, 'bounds', [...limits(r), '', ...cpu(r)]);
  text = replaceBlock(text, 'stages', stages(r));
  text = replaceBlock(text, 'city', city(r));
  text = replaceBlock(text, 'sweep', sweep ? sweepTable(sweep.points) : ['(run the `sweep` scenario)']);
  // The doc is prettier-checked: tables come out aligned as prettier would write them.
  text = await prettier.format(text, { ...(await prettier.resolveConfig(doc)), filepath: doc });
  writeFileSync(doc, text);
  return [chart, doc];
}
