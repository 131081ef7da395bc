import type { Db } from '@delivery/common';
import type { RedisClientType } from 'redis';
import { sleep } from './stats.js';
import { LOCK_KEY_PREFIX } from './system.js';

export interface Dbs {
  orders: Db;
  inventory: Db;
  dispatch: Db;
}

export interface Verification {
  ok: boolean;
  accepted: number;
  statuses: Record<string, number>;
  expectedRejected: number;
  rejected: number;
  /** Accepted orders that did not reach DISPATCHED/DELIVERED/REJECTED. */
  lost: number;
  /** Orders of the bench's cities in the database that no 201 told the bench about. */
  unacknowledged: number;
  stockConsistent: boolean;
  ordersWithTwoAssignments: number;
  vehiclesWithTwoActive: number;
  overlappingAssignments: number;
  vehicleMismatches: number;
  stillWaiting: number;
  locksLeft: number;
  problems: string[];
}

const TERMINAL = new Set(['DISPATCHED', 'DELIVERED', 'REJECTED']);

function chunks<T>(xs: T[], n = 1_000): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

async function statusesOf(
  db: Db,
  ids: number[],
): Promise<Map<number, { status: string; vehicle: string | null }>> {
  const out = new Map<number, { status: string; vehicle: string | null }>();
  for (const part of chunks(ids)) {
    const rows = (await db('orders').select('id', 'status', 'vehicle_number').whereIn('id', part)) as {
      id: number;
      status: string;
      vehicle_number: string | null;
    }[];
    for (const r of rows) out.set(Number(r.id), { status: r.status, vehicle: r.vehicle_number });
  }
  return out;
}

/**
 * The end state the run must leave, read from the services' databases: every order decided as
 * stock dictates, none lost, no vehicle ever carrying two orders at once.
 */
export async function verify(
  dbs: Dbs,
  redis: RedisClientType,
  f: {
    orderIds: number[];
    cities: string[];
    vehicles: string[];
    products: { id: number; stock: number; ordered: number }[];
    releasing: boolean;
    settleMs: number;
  },
): Promise<Verification> {
  const problems: string[] = [];
  // Statuses may trail the events the bench saw by a few ms: wait (bounded) for them to settle.
  let states = await statusesOf(dbs.orders, f.orderIds);
  const deadline = Date.now() + f.settleMs;
  while ([...states.values()].some((s) => !TERMINAL.has(s.status)) && Date.now() < deadline) {
    await sleep(250);
    states = await statusesOf(dbs.orders, f.orderIds);
  }
  const statuses: Record<string, number> = {};
  for (const s of states.values()) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
  const lost = f.orderIds.filter((id) => !TERMINAL.has(states.get(id)?.status ?? 'MISSING')).length;
  if (lost > 0) problems.push(`${lost} accepted orders did not reach a final status`);

  const inCities = (await dbs.orders('orders').whereIn('city', f.cities).count({ n: '*' }).first()) as {
    n: number;
  };
  const unacknowledged = Number(inCities.n) - f.orderIds.length;
  if (unacknowledged !== 0) problems.push(`${unacknowledged} orders in the bench cities without a 201`);

  const expectedRejected = f.products.reduce((s, p) => s + Math.max(0, p.ordered - p.stock), 0);
  const rejected = statuses.REJECTED ?? 0;
  if (rejected !== expectedRejected)
    problems.push(`${rejected} REJECTED, stock dictates ${expectedRejected}`);
  let stockConsistent = true;
  for (const p of f.products) {
    const row = (await dbs.inventory('products').select('stock').where({ id: p.id }).first()) as {
      stock: number;
    };
    if (Number(row.stock) !== p.stock - Math.min(p.stock, p.ordered)) {
      stockConsistent = false;
      problems.push(
        `product ${p.id}: stock ${row.stock}, expected ${p.stock - Math.min(p.stock, p.ordered)}`,
      );
    }
  }

  const d = dbs.dispatch;
  const assignments: {
    order_id: number;
    vehicle_number: string;
    status: string;
    id: number;
    created: number;
    released: number | null;
  }[] = [];
  for (const part of chunks(f.orderIds)) {
    const rows = (await d('assignments as a')
      .join('vehicles as v', 'v.id', 'a.vehicle_id')
      .select('a.id', 'a.order_id', 'a.status', 'v.vehicle_number')
      .select(
        d.raw(
          'UNIX_TIMESTAMP(a.created_at) * 1000 as created, UNIX_TIMESTAMP(a.released_at) * 1000 as released',
        ),
      )
      .whereIn('a.order_id', part)) as typeof assignments;
    assignments.push(...rows);
  }
  const perOrder = new Map<number, number>();
  for (const a of assignments) perOrder.set(Number(a.order_id), (perOrder.get(Number(a.order_id)) ?? 0) + 1);
  const ordersWithTwoAssignments = [...perOrder.values()].filter((n) => n > 1).length;
  const twoActive = (await d('assignments')
    .select('vehicle_id')
    .where({ status: 'ACTIVE' })
    .groupBy('vehicle_id')
    .havingRaw('COUNT(*) > 1')) as unknown[];
  // Stronger than the index: per vehicle, each assignment starts only after the previous one ended.
  let overlappingAssignments = 0;
  const byVehicle = new Map<string, typeof assignments>();
  for (const a of assignments)
    byVehicle.set(a.vehicle_number, [...(byVehicle.get(a.vehicle_number) ?? []), a]);
  for (const list of byVehicle.values()) {
    list.sort((x, y) => Number(x.id) - Number(y.id));
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!;
      if (prev.status !== 'RELEASED' || Number(list[i]!.created) < Number(prev.released))
        overlappingAssignments += 1;
    }
  }
  let vehicleMismatches = 0;
  for (const a of assignments) {
    const s = states.get(Number(a.order_id));
    if (s?.vehicle !== a.vehicle_number) vehicleMismatches += 1;
  }
  const reserved = f.orderIds.length - rejected;
  if (assignments.length !== reserved)
    problems.push(`${assignments.length} assignments for ${reserved} reserved orders`);
  if (ordersWithTwoAssignments) problems.push(`${ordersWithTwoAssignments} orders with two assignments`);
  if (twoActive.length) problems.push(`${twoActive.length} vehicles with two ACTIVE assignments`);
  if (overlappingAssignments)
    problems.push(`${overlappingAssignments} overlapping assignments of one vehicle`);
  if (vehicleMismatches)
    problems.push(`${vehicleMismatches} orders whose vehicle differs from their assignment`);

  const waiting = (await d('waiting_orders')
    .whereIn('order_id', f.orderIds.slice(0, 60_000))
    .count({ n: '*' })
    .first()) as { n: number };
  const stillWaiting = Number(waiting.n);
  if (stillWaiting) problems.push(`${stillWaiting} orders still waiting for a vehicle`);

  let locksLeft = 0;
  if (f.releasing) {
    const keys = f.vehicles.map((v) => `${LOCK_KEY_PREFIX}${v.toUpperCase()}`);
    for (const part of chunks(keys, 500))
      locksLeft += (await redis.mGet(part)).filter((v) => v !== null).length;
    if (locksLeft) problems.push(`${locksLeft} vehicle locks left after every release`);
  }
  return {
    ok: problems.length === 0,
    accepted: f.orderIds.length,
    statuses,
    expectedRejected,
    rejected,
    lost,
    unacknowledged,
    stockConsistent,
    ordersWithTwoAssignments,
    vehiclesWithTwoActive: twoActive.length,
    overlappingAssignments,
    vehicleMismatches,
    stillWaiting,
    locksLeft,
    problems,
  };
}
