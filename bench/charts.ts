import { describeMachine, describeRun, type BenchResult } from './report.js';
import { CDF_PERCENTS } from './stats.js';
import { formatNumber, renderChart, type Series } from './svg-chart.js';
import type { SweepPoint } from './sweep.js';

/** The charts of a result, a sweep and the canonical set, drawn from what the result files keep. */
const latency = (v: number) => (v >= 1_000 ? `${formatNumber(v / 1_000)} s` : `${formatNumber(v)} ms`);

/** A latency distribution kept at CDF_PERCENTS, as a CDF line. */
export function cdfSeries(name: string, cdfMs: readonly number[], dashed = false): Series {
  return { name, dashed, points: cdfMs.map((ms, i) => [ms, CDF_PERCENTS[i]!] as const) };
}

export function latencyCdfChart(title: string, series: Series[], caption: string): string {
  return renderChart({
    title,
    x: { label: 'latency (log scale)', log: true, format: latency },
    panels: [{ y: { label: 'orders within (%)', min: 0, max: 100 }, series }],
    caption,
  });
}

export function caption(r: BenchResult): string {
  return `${describeMachine(r.machine)}; ${r.command}`;
}

/** <suffix> → SVG for one run: its latency CDF and, with a pipeline, its throughput over time. */
export function runCharts(r: BenchResult): Record<string, string> {
  const charts: Record<string, string> = {};
  const series: Series[] = [];
  const p = r.pipeline;
  if (p) {
    series.push(
      cdfSeries('POST answered', p.latencyCdfMs.post),
      cdfSeries('POST → CONFIRMED written', p.latencyCdfMs.postToConfirmed),
      cdfSeries('POST → DISPATCHED received', p.latencyCdfMs.postToDispatched),
    );
    charts.throughput = renderChart({
      title: `Throughput over time: ${describeRun(r.options)}`,
      x: { label: 'seconds since the first POST', min: 0 },
      panels: [
        {
          y: { label: 'orders per second', min: 0 },
          series: [
            {
              name: 'POSTs sent',
              points: p.timeline.map((t) => [t.second + 0.5, t.sent] as const),
              dashed: true,
            },
            {
              name: 'outcomes (DISPATCHED or REJECTED)',
              points: p.timeline.map((t) => [t.second + 0.5, t.completed] as const),
            },
          ],
        },
      ],
      caption: caption(r),
    });
  }
  const c = r.cityCost;
  if (c)
    series.push(
      cdfSeries(
        `one at a time, city of ${c.control.vehicles} vehicle`,
        c.control.postToDispatchedCdfMs,
        true,
      ),
      cdfSeries(
        `one at a time, city of ${c.crowded.vehicles} (${c.crowded.busy} busy)`,
        c.crowded.postToDispatchedCdfMs,
        true,
      ),
    );
  if (series.length > 0)
    charts['latency-cdf'] = latencyCdfChart(`Latency: ${describeRun(r.options)}`, series, caption(r));
  return charts;
}

/** p50/p99 and CPU per order against the throughput each offered rate reached. */
export function sweepChart(points: SweepPoint[], captionText: string): string {
  const labels = points.map((pt) => pt.offered);
  const at = (pick: (pt: SweepPoint) => number) => points.map((pt) => [pt.sustained, pick(pt)] as const);
  return renderChart({
    title: 'Latency and CPU per order against the rate',
    x: { label: 'orders/s sustained (log scale; each point labelled with the rate offered)', log: true },
    panels: [
      {
        y: { label: 'POST → DISPATCHED (log scale)', log: true, format: latency },
        series: [
          { name: 'p50', points: at((pt) => pt.p50), markers: true },
          { name: 'p99', points: at((pt) => pt.p99), markers: true, labels },
        ],
      },
      {
        y: { label: 'ms of CPU per order', min: 0 },
        series: [
          {
            name: 'CPU per order, all processes',
            points: at((pt) => pt.cpuMsPerOrder),
            markers: true,
            labels,
          },
        ],
      },
    ],
    panelHeight: 260,
    caption: captionText,
  });
}
