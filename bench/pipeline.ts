import type { EventTap, OrderEvents } from './events.js';
import { drive, type OrderSpec, type PostResult } from './load.js';
import type { JsonClient } from './system.js';
import { cdf, nowMs, sleep, summarize } from './stats.js';

export interface PipelineRun {
  results: PostResult[];
  accepted: PostResult[];
  /** The moment each accepted order got its outcome (order.dispatched, or order.inventory.updated REJECTED). */
  outcomeAt: Map<number, number>;
  firstSend: number;
  lastSend: number;
  timedOut: boolean;
}

export function outcomeOf(e: OrderEvents | undefined): number | undefined {
  if (!e) return undefined;
  if (e.dispatched) return e.dispatched.receivedAt;
  if (e.inventory?.status === 'REJECTED') return e.inventory.receivedAt;
  return undefined;
}

/** Places the orders, then waits (bounded) until every accepted one has its outcome event. */
export async function runPipeline(
  client: JsonClient,
  tap: EventTap,
  specs: OrderSpec[],
  opts: { rate: number; concurrency: number; drainTimeoutS: number; log: (s: string) => void },
): Promise<PipelineRun> {
  let sent = 0;
  let errors = 0;
  // Accepted orders still without their outcome; checked incrementally, the bench shares the CPUs.
  const pending = new Set<number>();
  const settle = () => {
    for (const id of pending) if (outcomeOf(tap.byOrder.get(id)) !== undefined) pending.delete(id);
  };
  const progress = setInterval(() => {
    settle();
    opts.log(`  sent ${sent}/${specs.length}, errors ${errors}, without outcome ${pending.size}`);
  }, 2_000);
  try {
    const results = await drive(client, specs, {
      rate: opts.rate,
      concurrency: opts.concurrency,
      onResult: (r) => {
        sent++;
        if (r.status !== 201) errors++;
        if (r.orderId !== undefined) pending.add(r.orderId);
      },
    });
    const accepted = results.filter((r) => r.orderId !== undefined);
    const deadline = nowMs() + opts.drainTimeoutS * 1_000;
    settle();
    while (pending.size > 0 && nowMs() < deadline) {
      await sleep(50);
      settle();
    }
    const outcomeAt = new Map<number, number>();
    for (const r of accepted) {
      const t = outcomeOf(tap.byOrder.get(r.orderId!));
      if (t !== undefined) outcomeAt.set(r.orderId!, t);
    }
    return {
      results,
      accepted,
      outcomeAt,
      firstSend: Math.min(...results.map((r) => r.sentAt)),
      lastSend: Math.max(...results.map((r) => r.sentAt)),
      timedOut: pending.size > 0,
    };
  } finally {
    clearInterval(progress);
  }
}

export function pipelineFigures(run: PipelineRun, tap: EventTap) {
  const { accepted, outcomeAt, firstSend, lastSend } = run;
  const outcomes = [...outcomeAt.values()].sort((a, b) => a - b);
  const lastOutcome = outcomes[outcomes.length - 1] ?? firstSend;
  // Steady state: the middle 80 % of completions, away from ramp-up and drain.
  const lo = outcomes[Math.floor(outcomes.length * 0.1)] ?? firstSend;
  const hi = outcomes[Math.floor(outcomes.length * 0.9)] ?? lastOutcome;
  const steadyCount = Math.floor(outcomes.length * 0.9) - Math.floor(outcomes.length * 0.1);
  const perSecond = (n: number, ms: number) => Math.round((n / Math.max(ms, 1)) * 1_000 * 10) / 10;
  const since = (pick: (e: OrderEvents) => number | undefined) =>
    accepted.map((r) => {
      const e = tap.byOrder.get(r.orderId!);
      const t = e && pick(e);
      return t === undefined ? NaN : t - r.scheduledAt;
    });
  const post = run.results.map((r) => r.doneAt - r.scheduledAt);
  // order.confirmed as order-service wrote it (its outbox), the outcome as the bench received it.
  const postToConfirmed = since((e) => e.confirmed?.occurredAt);
  const postToDispatched = since((e) => e.dispatched?.receivedAt);
  // The orders sent in the middle 80 % of the sending window: a run's first second pays for cold
  // code and caches (its new cities, services that sat idle), which its p99 would otherwise be.
  const sendSpan = lastSend - firstSend;
  const middle = accepted.map(
    (r) => r.sentAt >= firstSend + 0.1 * sendSpan && r.sentAt <= firstSend + 0.9 * sendSpan,
  );
  const timeline: { second: number; sent: number; completed: number }[] = [];
  const bucket = (t: number) => Math.floor((t - firstSend) / 1_000);
  for (const r of run.results) {
    const b = bucket(r.sentAt);
    timeline[b] ??= { second: b, sent: 0, completed: 0 };
    timeline[b].sent++;
  }
  for (const t of outcomes) {
    const b = bucket(t);
    timeline[b] ??= { second: b, sent: 0, completed: 0 };
    timeline[b].completed++;
  }
  const postErrors: Record<string, number> = {};
  for (const r of run.results)
    if (r.status !== 201) postErrors[String(r.status)] = (postErrors[String(r.status)] ?? 0) + 1;
  let duplicates = 0;
  for (const r of accepted)
    duplicates += Math.max(0, (tap.byOrder.get(r.orderId!)?.dispatchedCount ?? 0) - 1);
  return {
    postErrors,
    durationS: Math.round(lastOutcome - firstSend) / 1_000,
    throughput: {
      postsPerSecond: perSecond(run.results.length, lastSend - firstSend),
      endToEndPerSecond: perSecond(outcomes.length, lastOutcome - firstSend),
      steadyPerSecond: perSecond(steadyCount, hi - lo),
    },
    latencyMs: {
      post: summarize(post),
      postToConfirmed: summarize(postToConfirmed),
      postToDispatched: summarize(postToDispatched),
      postToDispatchedMiddle: summarize(postToDispatched.filter((_, i) => middle[i])),
      sendLag: summarize(run.results.map((r) => r.sentAt - r.scheduledAt)),
    },
    latencyCdfMs: {
      post: cdf(post),
      postToConfirmed: cdf(postToConfirmed),
      postToDispatched: cdf(postToDispatched),
    },
    duplicateDispatchedEvents: duplicates,
    timeline: Array.from(timeline, (t, i) => t ?? { second: i, sent: 0, completed: 0 }),
  };
}
