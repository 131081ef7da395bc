/**
 * One cluster scenario: orders placed at a steady rate through every order-service instance,
 * the fault in the middle of the stream, the flow left to settle, then the fault suite's checks
 * (test/faults/checks.ts) asserted and its figures reported, with the longest stall beside them.
 */
import assert from 'node:assert/strict';
import { createDb } from '@delivery/common';
import { waitFor } from '@delivery/common/testing';
import type { System } from '../support.js';
import { ordersInFlight, report, settle, verify, type Figures } from '../faults/checks.js';
import { placeOrders, startReleaser, type Load } from '../faults/flow.js';

export interface ClusterScenarioOptions {
  scenario: string;
  /** Orders placed in all, spread evenly over the order-service instances. */
  count: number;
  perSecond?: number;
  /** The fault strikes once this many orders were answered 201. */
  faultAfter?: number;
  /** Breaks something and repairs it while the load runs; may return figures of its own. */
  fault(load: Load): Promise<void | Record<string, number>>;
}

export type ClusterFigures = Figures & { longestStallS: number };

/** One load per order-service instance, seen as one: what the checks compare the databases with. */
function loadOnEveryInstance(system: System, count: number, perSecond: number): Load {
  const urls = system.instances['order-service'].map((s) => s.url);
  const loads = urls.map((url) =>
    placeOrders(url, { count: Math.ceil(count / urls.length), perSecond: perSecond / urls.length }),
  );
  const load: Load = {
    get attempted() {
      return loads.reduce((n, l) => n + l.attempted, 0);
    },
    get accepted() {
      return loads.flatMap((l) => l.accepted);
    },
    get refused() {
      const all: Record<string, number> = {};
      for (const l of loads) for (const [why, n] of Object.entries(l.refused)) all[why] = (all[why] ?? 0) + n;
      return all;
    },
    done: Promise.all(loads.map((l) => l.done)).then(() => undefined),
    acceptedAtLeast: (n) =>
      waitFor(() => load.accepted.length >= n, { timeoutMs: 120_000, what: `${n} orders answered 201` }).then(
        () => undefined,
      ),
  };
  return load;
}

/** How far the orders have come, summed: it grows whenever any order moves on, and only then. */
const PROGRESS_SQL = `SELECT
  COALESCE(SUM(CASE status WHEN 'PENDING' THEN 0 WHEN 'CONFIRMED' THEN 1 WHEN 'DISPATCHED' THEN 2 ELSE 3 END), 0) AS progress,
  COALESCE(SUM(status IN ('PENDING', 'CONFIRMED', 'DISPATCHED')), 0) AS open
  FROM orders`;

/**
 * Watches order-service's database and measures the longest time in which orders were open
 * (placed, not yet final) and none of them moved on: the stall a fault causes.
 */
export function watchProgress(system: System, intervalMs = 250): { stop(): Promise<number> } {
  const db = createDb({
    url: system.mysqlUrl,
    database: system.services['order-service'].database,
    poolMax: 1,
  });
  let running = true;
  let longestMs = 0;
  const loop = (async () => {
    let last = -1;
    let since = Date.now();
    while (running) {
      const [[row]] = (await db.raw(PROGRESS_SQL)) as [
        { progress: number | string; open: number | string }[],
      ];
      const now = Date.now();
      const [progress, open] = [Number(row!.progress), Number(row!.open)];
      // Moving on, or nothing left to move: the clock starts again.
      if (progress !== last || open === 0) since = now;
      last = progress;
      longestMs = Math.max(longestMs, now - since);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  // A failed read fails stop(), not the process in the meantime.
  loop.catch(() => undefined);
  let stopped: Promise<number> | undefined;
  return {
    stop() {
      running = false;
      stopped ??= loop.finally(() => db.destroy()).then(() => Math.round(longestMs / 100) / 10);
      return stopped;
    },
  };
}

/** DELIVERED orders whose order.dispatched never reached order-service (it names no vehicle). */
async function deliveredWithoutVehicle(system: System): Promise<number> {
  const db = createDb({
    url: system.mysqlUrl,
    database: system.services['order-service'].database,
    poolMax: 1,
  });
  try {
    const row = (await db('orders')
      .where({ status: 'DELIVERED' })
      .whereNull('vehicle_number')
      .count({ n: '*' })
      .first()) as { n: number | string } | undefined;
    return Number(row?.n ?? 0);
  } finally {
    await db.destroy();
  }
}

export async function runClusterScenario(
  system: System,
  options: ClusterScenarioOptions,
): Promise<{ figures: ClusterFigures; load: Load }> {
  const { count, perSecond = 8, faultAfter = 24 } = options;
  const progress = watchProgress(system);
  const releaser = startReleaser(system);
  const load = loadOnEveryInstance(system, count, perSecond);
  try {
    await load.acceptedAtLeast(faultAfter);
    const before = await ordersInFlight(system);
    const faultFigures = await options.fault(load);
    const after = await ordersInFlight(system);
    await load.done;
    const unsettled = await settle(system).then(
      () => undefined,
      (err: unknown) => err,
    );
    const longestStallS = await progress.stop();
    const figures: ClusterFigures = {
      ...(await verify(system, {
        scenario: options.scenario,
        load,
        inFlightAtFault: Math.max(before, after),
      })),
      longestStallS,
    };
    // verify() reads the logs of the first instance of each service and of every dispatcher:
    // the other order-service and inventory-service instances must not have answered 500 either.
    for (const name of ['order-service', 'inventory-service'] as const)
      for (const s of system.instances[name].slice(1))
        for (const l of s
          .logLines()
          .filter((line) => (line.res as { statusCode?: number })?.statusCode === 500))
          figures.problems.push(`HTTP 500 from ${name} (${s.url}): ${String(l.msg)}`);
    // verify() counts as lost the orders that never reached a final state; an order delivered
    // without its vehicle reached it but lost its order.dispatched on the way: lost too.
    figures.lost += await deliveredWithoutVehicle(system);
    if (faultFigures) figures.fault = faultFigures;
    report(figures);
    if (unsettled) throw unsettled;
    assert.equal(figures.lost, 0, 'orders answered 201 that did not reach a final state');
    assert.equal(figures.doubleAllocated, 0, 'double allocations');
    assert.equal(figures.appliedTwice, 0, 'effects applied twice');
    assert.equal(figures.dlq, 0, 'messages in the DLQs');
    assert.deepEqual(figures.problems, []);
    return { figures, load };
  } finally {
    await load.done;
    await releaser.stop();
    await progress.stop();
  }
}
