import type { Db } from '@delivery/common';
import { createClient, type RedisClientType } from 'redis';
import type { OrderSpec } from './load.js';
import { LOCK_KEY_PREFIX, REDIS_URL, registerVehicles, type JsonClient } from './system.js';
import { cdf, mapLimit, nowMs, summarize, type Summary } from './stats.js';

/**
 * What one allocation costs in Redis, in a city of `vehicles` vehicles of which all but one are
 * busy, against a control city of one vehicle: orders are placed one at a time, each waits for
 * its order.dispatched and has its vehicle released, while MONITOR records every command that
 * names a lock of the city.
 */
export interface CityCost {
  city: string;
  vehicles: number;
  busy: number;
  allocations: number;
  /** Every command naming the city's lock keys, by command; `lua:` ones run inside the release script. */
  redisCommands: Record<string, number>;
  /** Client commands between an order's POST and its order.dispatched: the allocation's round trips. */
  perAllocation: { median: number; max: number };
  /** Client commands during the release call. */
  perRelease: { median: number; max: number };
  /** Client commands outside those windows: the lock reconciler's passes (every 30 s, all locks). */
  outsideWindows: number;
  /** Global MariaDB row reads (Handler_read_*) per allocation+release: includes other clients. */
  mariadbRowReadsPerOrder: number;
  postToDispatchedMs: Summary;
  /** The same at each of CDF_PERCENTS (stats.ts). */
  postToDispatchedCdfMs: number[];
}

/** The crowded city against the control city of one vehicle. */
export interface CrowdedCity {
  control: CityCost;
  crowded: CityCost;
}

export interface CityPhaseDeps {
  run: string;
  order: JsonClient;
  dispatcher: JsonClient;
  db: Db;
  productId: number;
  /** Resolves with the vehicle once the order's order.dispatched reached the bench. */
  waitDispatched(orderId: number): Promise<{ vehicleNumber: string; receivedAt: number }>;
  placed: number[];
}

async function handlerReads(db: Db): Promise<number> {
  const [rows] = (await db.raw("SHOW GLOBAL STATUS LIKE 'Handler_read%'")) as [{ Value: string }[]];
  return rows.reduce((s, r) => s + Number(r.Value), 0);
}

async function placeOrder(deps: CityPhaseDeps, city: string, customerId: number): Promise<number> {
  const spec: OrderSpec = {
    customerId,
    city,
    items: [{ productId: deps.productId, price: 9.99, quantity: 1 }],
  };
  const res = await deps.order.call<{ id: number }>('POST', '/orders', spec);
  if (res.status !== 201) throw new Error(`POST /orders answered ${res.status}`);
  deps.placed.push(res.body.id);
  return res.body.id;
}

async function release(deps: CityPhaseDeps, vehicle: string): Promise<void> {
  const res = await deps.dispatcher.call(
    'PATCH',
    `/dispatch-locations/${encodeURIComponent(vehicle)}/release`,
  );
  if (res.status !== 200) throw new Error(`release ${vehicle} answered ${res.status}`);
}

async function measureCityCost(
  deps: CityPhaseDeps,
  name: string,
  vehicles: number,
  allocations: number,
): Promise<CityCost & { vehicleNumbers: string[] }> {
  const city = `Bench-${deps.run}-${name}`;
  const fleet = new Map(
    Array.from({ length: vehicles }, (_, i) => [`B${deps.run}-${name}-${i}`, city] as const),
  );
  await registerVehicles(deps.dispatcher, fleet);
  // Make all but one vehicle busy; they stay allocated until the end of the phase.
  const busyOrders = await mapLimit(
    Array.from({ length: vehicles - 1 }, (_, i) => i),
    16,
    (i) => placeOrder(deps, city, i + 1),
  );
  const busyVehicles = await Promise.all(busyOrders.map((id) => deps.waitDispatched(id)));

  const monitor = createClient({ url: REDIS_URL }) as RedisClientType;
  await monitor.connect();
  const needle = `${LOCK_KEY_PREFIX}${`B${deps.run}-${name}-`.toUpperCase()}`;
  const counts: Record<string, number> = {};
  // Client commands with Redis's own timestamp (same clock as ours), to attribute them to windows.
  const client: number[] = [];
  await monitor.monitor((line: string) => {
    if (!line.includes(needle)) return;
    const lua = line.includes('[0 lua]') || / lua\]/.test(line);
    const cmd = /\] "([^"]+)"/.exec(line)?.[1]?.toUpperCase() ?? '?';
    const name = `${lua ? 'lua:' : ''}${cmd}`;
    counts[name] = (counts[name] ?? 0) + 1;
    if (!lua) client.push(Number(/^(\d+\.\d+)/.exec(line)?.[1] ?? 0) * 1_000);
  });
  const reads0 = await handlerReads(deps.db);
  const latencies: number[] = [];
  const windows: { kind: 'allocation' | 'release'; from: number; to: number }[] = [];
  for (let i = 0; i < allocations; i++) {
    const t0 = nowMs();
    const orderId = await placeOrder(deps, city, 10_000 + i);
    const { vehicleNumber, receivedAt } = await deps.waitDispatched(orderId);
    latencies.push(receivedAt - t0);
    windows.push({ kind: 'allocation', from: t0, to: receivedAt });
    const r0 = nowMs();
    await release(deps, vehicleNumber);
    windows.push({ kind: 'release', from: r0, to: nowMs() });
  }
  const reads = (await handlerReads(deps.db)) - reads0;
  // MONITOR lines arrive asynchronously: give the last ones a moment.
  await new Promise((r) => setTimeout(r, 300));
  await monitor.destroy();
  await mapLimit(busyVehicles, 16, (v) => release(deps, v.vehicleNumber));

  const inWindow = windows.map((w) => client.filter((t) => t >= w.from && t <= w.to).length);
  const spread = (kind: string) => {
    const n = inWindow.filter((_, i) => windows[i]!.kind === kind).sort((a, b) => a - b);
    return { median: n[Math.floor(n.length / 2)] ?? 0, max: n[n.length - 1] ?? 0 };
  };
  return {
    city,
    vehicles,
    busy: vehicles - 1,
    allocations,
    redisCommands: counts,
    perAllocation: spread('allocation'),
    perRelease: spread('release'),
    outsideWindows: client.length - inWindow.reduce((a, b) => a + b, 0),
    mariadbRowReadsPerOrder: Math.round(reads / allocations),
    postToDispatchedMs: summarize(latencies),
    postToDispatchedCdfMs: cdf(latencies),
    vehicleNumbers: [...fleet.keys()],
  };
}

/**
 * The phase as a run has it: the control city of one vehicle, then the crowded one. Returns
 * their figures and what they registered, for the final-state check.
 */
export async function crowdedCityPhase(
  deps: CityPhaseDeps,
  vehicles: number,
  allocations: number,
): Promise<{ cost: CrowdedCity; cities: string[]; vehicleNumbers: string[] }> {
  const { vehicleNumbers: controlFleet, ...control } = await measureCityCost(deps, 'one', 1, allocations);
  const { vehicleNumbers: crowdedFleet, ...crowded } = await measureCityCost(
    deps,
    'big',
    vehicles,
    allocations,
  );
  return {
    cost: { control, crowded },
    cities: [control.city, crowded.city],
    vehicleNumbers: [...controlFleet, ...crowdedFleet],
  };
}
