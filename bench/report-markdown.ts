import type { BenchResult, PipelineResult } from './report.js';
import type { Summary } from './stats.js';

/** A result as markdown: what `make bench` prints and writes beside the JSON. */
const ms = (s: Summary) => `${s.p50} / ${s.p95} / ${s.p99} / ${s.max}`;

function pipelineLines(r: BenchResult, p: PipelineResult): string[] {
  const cpu = p.cpu.perOrder;
  const per = p.perOrder;
  return [
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
    ...(p.latencyMs.postToDispatchedMiddle
      ? [
          `| POST→DISPATCHED, orders sent in the middle 80 % of the run, ms p50 / p95 / p99 / max | ${ms(p.latencyMs.postToDispatchedMiddle)} |`,
        ]
      : []),
    `| bench send lag ms p50 / p99 | ${p.latencyMs.sendLag.p50} / ${p.latencyMs.sendLag.p99} |`,
    `| releases ok / 409 / failed / retries | ${p.releases.released} / ${p.releases.notAllocated} / ${p.releases.failed} / ${p.releases.retries} |`,
    `| duplicate order.dispatched deliveries | ${p.duplicateDispatchedEvents} |`,
    `| machine busy during the run | ${Math.round(p.cpu.machineBusy * 100)} % of ${r.machine.cores} cores (${p.cpu.otherCpuSeconds} CPU-s not ours) |`,
    `| per order: SQL statements (MariaDB Questions) / HTTP requests served / events published | ${per.statements} / ${per.httpRequests ?? '?'} / ${per.kafkaMessages ?? '?'} |`,
    '',
    '### CPU per order (ms of CPU, all threads of each process)',
    '',
    `| ${Object.keys(cpu.byProcess).join(' | ')} |`,
    `|${Object.keys(cpu.byProcess)
      .map(() => '---')
      .join('|')}|`,
    `| ${Object.values(cpu.byProcess).join(' | ')} |`,
    '',
    `${cpu.total} ms of CPU per order in all: ${r.machine.cores} cores allow ${cpu.allCores} orders/s, the cores other work left during the run ${cpu.leftByOthers} orders/s; sustained ÷ that: ${r.ratios?.throughputToCpuBound}.`,
    '',
    `MariaDB global status per order (includes anyone else's load): ${Object.entries(per.mariadbStatus)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
    "## Where an order's time goes (ms)",
    '',
    '| stage | p50 | p95 | p99 | max |',
    '|---|---|---|---|---|',
    ...r.stages.map((s) => `| ${s.stage} | ${s.ms.p50} | ${s.ms.p95} | ${s.ms.p99} | ${s.ms.max} |`),
  ];
}

function limitLines(r: BenchResult): string[] {
  const l = r.limits;
  const i = r.implied;
  if (!l || !i || !r.ratios) return [];
  const rate = (x: { perSecond: number; latencyMs: Summary }) =>
    `${x.perSecond}/s | ${x.latencyMs.p50} / ${x.latencyMs.p99}`;
  return [
    "## This machine's limits, same run",
    '',
    '| limit | rate | latency p50 / p99 ms |',
    '|---|---|---|',
    `| MariaDB single-row tx, 1 connection | ${rate(l.mariadb.serialTx)} |`,
    `| MariaDB single-row tx, ${l.mariadb.concurrentTx.concurrency} connections | ${rate(l.mariadb.concurrentTx)} |`,
    `| MariaDB autocommit insert, ${l.mariadb.concurrentAutocommit.concurrency} connections | ${rate(l.mariadb.concurrentAutocommit)} |`,
    `| Kafka produce (acks=all) → project consumer loop, one at a time | — | ${l.kafka.roundTrip.p50} / ${l.kafka.roundTrip.p99} |`,
    `| Kafka produce ack alone | — | ${l.kafka.produceAck.p50} / ${l.kafka.produceAck.p99} |`,
    `| Kafka relay-style batches of 200, produce | ${l.kafka.producePerSecond} msg/s | |`,
    `| Kafka relay-style batches → project consumer loop, end to end | ${l.kafka.endToEndPerSecond} msg/s | |`,
    `| Redis SET NX PX, 1 at a time | ${rate(l.redis.setNxSerial)} |`,
    `| Redis SET NX PX, ${l.redis.setNxConcurrent.concurrency} concurrent | ${rate(l.redis.setNxConcurrent)} |`,
    `| Redis compare-and-delete (EVAL) | — | ${l.redis.compareAndDelete.p50} / ${l.redis.compareAndDelete.p99} |`,
    `| HTTP GET /healthz on order-service, 1 at a time | ${rate(l.http.healthzSerial)} |`,
    `| HTTP GET /healthz on order-service, ${l.http.healthzConcurrent.concurrency} concurrent | ${rate(l.http.healthzConcurrent)} |`,
    '',
    `Per order: ${i.perOrder.statements} SQL statements, ${i.perOrder.kafkaMessages} Kafka messages, ${i.perOrder.httpRequests} HTTP requests, ${i.perOrder.redisCommands} Redis commands.`,
    '',
    '| implied limit (orders/s) | value |',
    '|---|---|',
    ...Object.entries(i.byResource).map(([k, v]) => `| ${k} alone | ${v} |`),
    `| bottleneck | ${i.bottleneck.resource} ${i.bottleneck.ordersPerSecond} |`,
    `| all four sharing the machine, 1/Σ(cost/rate) | ${i.sharedMachine} |`,
    `| POST→DISPATCHED floor p50 (ms) | ${i.latencyFloorP50Ms} |`,
    '',
    `**Ratios** (sustained throughput): to the bottleneck ${r.ratios.throughputToBottleneck}; to the shared-machine limit ${r.ratios.throughputToSharedMachine}; to the CPU bound left by others ${r.ratios.throughputToCpuBound}; POST→DISPATCHED p50 / floor ${r.ratios.p50ToFloor} (meaningful below saturation only).`,
  ];
}

function cityLines(r: BenchResult): string[] {
  if (!r.cityCost) return [];
  return [
    "## Redis cost of an allocation (one order at a time, MONITOR on the city's lock keys)",
    '',
    '| city | vehicles | busy | allocations | Redis commands per allocation, median / max | per release, median / max | outside those windows (reconciler) | all commands seen | POST→DISPATCHED p50 / p99 ms | MariaDB row reads / order (global) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...[r.cityCost.control, r.cityCost.crowded].map(
      (c) =>
        `| ${c.city} | ${c.vehicles} | ${c.busy} | ${c.allocations} | ${c.perAllocation.median} / ${c.perAllocation.max} | ${c.perRelease.median} / ${c.perRelease.max} | ${c.outsideWindows} | ${JSON.stringify(c.redisCommands)} | ${c.postToDispatchedMs.p50} / ${c.postToDispatchedMs.p99} | ${c.mariadbRowReadsPerOrder} |`,
    ),
  ];
}

/** `charts`: file names of the run's SVGs beside the markdown, by suffix. */
export function toMarkdown(r: BenchResult, charts: Record<string, string> = {}): string {
  const m = r.machine;
  const v = r.verification;
  return [
    `# Bench ${r.startedAt} (${r.label}, run ${r.run})`,
    '',
    `\`${r.command}\``,
    '',
    ...(r.options.note ? [`Note: ${r.options.note}`, ''] : []),
    `Machine: ${m.cores} cores ${m.cpuModel}, ${m.memoryGb} GB, ${m.kernel}; Node ${m.node}, KafkaJS ${m.kafkajs}, Kafka ${m.kafka}, MariaDB ${m.mariadb}, Redis ${m.redis}; commit ${m.gitCommit}${m.gitDirty ? ' (with uncommitted changes)' : ''}; load average at start ${m.loadAverageAtStart.join(' ')}.`,
    '',
    ...Object.entries(charts).map(([name, file]) => `![${name}](${file})`),
    ...(Object.keys(charts).length ? [''] : []),
    ...[r.pipeline ? pipelineLines(r, r.pipeline) : [], limitLines(r), cityLines(r)].flatMap((lines) =>
      lines.length ? [...lines, ''] : [],
    ),
    '## Final state',
    '',
    `${v.ok ? 'OK' : 'FAILED'}: ${v.accepted} accepted, statuses ${JSON.stringify(v.statuses)}, REJECTED ${v.rejected} (stock dictates ${v.expectedRejected}), lost ${v.lost}, unacknowledged ${v.unacknowledged}, stock consistent ${v.stockConsistent}, orders with two assignments ${v.ordersWithTwoAssignments}, vehicles with two ACTIVE ${v.vehiclesWithTwoActive}, overlapping assignments ${v.overlappingAssignments}, vehicle mismatches ${v.vehicleMismatches}, still waiting ${v.stillWaiting}, locks left ${v.locksLeft}.`,
    ...v.problems.map((x) => `- ${x}`),
    '',
  ].join('\n');
}
