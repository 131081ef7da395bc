import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCharts, sweepChart } from './charts.js';
import { describeMachine, type BenchResult } from './report.js';
import { toMarkdown } from './report-markdown.js';
import { sweepMarkdown, type Sweep } from './sweep.js';

/**
 * Result files: <base>.json (every figure), <base>.md (the report) and <base>-<chart>.svg beside
 * them. <base> is <timestamp>-<label> for raw runs, or a fixed name (the canonical results).
 */
export function baseName(startedAt: string, label: string, name?: string): string {
  return name ?? `${startedAt.replace(/[:.]/g, '-')}-${label}`;
}

function write(dir: string, file: string, text: string): string {
  const full = path.join(dir, file);
  writeFileSync(full, text);
  return full;
}

export function writeRunFiles(r: BenchResult, dir: string, base: string): string[] {
  mkdirSync(dir, { recursive: true });
  const charts = runCharts(r);
  const files = Object.fromEntries(Object.keys(charts).map((k) => [k, `${base}-${k}.svg`]));
  return [
    write(dir, `${base}.json`, `${JSON.stringify(r, null, 2)}\n`),
    write(dir, `${base}.md`, toMarkdown(r, files)),
    ...Object.entries(charts).map(([k, svg]) => write(dir, files[k]!, svg)),
  ];
}

export function writeSweepFiles(s: Sweep, dir: string, base: string): string[] {
  mkdirSync(dir, { recursive: true });
  const chart = `${base}.svg`;
  return [
    write(dir, `${base}.json`, `${JSON.stringify(s, null, 2)}\n`),
    write(dir, `${base}.md`, sweepMarkdown(s, chart)),
    write(dir, chart, sweepChart(s.points, `${describeMachine(s.machine)}; ${s.command}`)),
  ];
}
