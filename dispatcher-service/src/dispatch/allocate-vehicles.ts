import { findFreeVehicles, type Vehicle } from '../vehicles/vehicles-repository.js';
import { insertAssignments } from './assignments-repository.js';
import type { Allocation, CityTransaction } from './city-transaction.js';
import { dropLock, lockVehicles, walkOneByOne, type Claim } from './claim-vehicles.js';
import type { AllocationDeps } from './dispatch-deps.js';
import {
  deleteWaitingOrders,
  findOldestWaiting,
  insertWaitingOrders,
  type NewWaitingOrder,
  type QueuedOrder,
} from './waiting-orders-repository.js';

/**
 * Free vehicles read per city and round beyond the orders that just arrived: room for refused
 * locks, and for the queue a release or a registration serves, without another round.
 */
const ROUND_SPARE = 8;

/** A city whose queue to allocate, and the orders that arrived for it in this transaction. */
export interface CityToAllocate {
  key: string;
  /**
   * The tail of the city's queue, in arrival order and not stored: behind every waiting_orders
   * row of the city, which committed before this transaction took the city's lock.
   */
  arrivals: readonly NewWaitingOrder[];
}

/**
 * The one allocation function (DESIGN.md §6, steps 2 and 3), for a confirmed order, a release, a
 * registration, a finished order and the reconciler alike. Gives the cities' queues their free
 * vehicles in the open transaction: per round, the k oldest queued orders of each city (its
 * waiting_orders rows, then its arrivals) get its k least recently released free vehicles
 * (k = min(queued, free)), with one statement reading the free vehicles of every city, one the
 * waiting orders, one SET NX per allocation, one multi-row INSERT of the assignments and one
 * DELETE of the served queue rows. Another round only while a city may have more of both.
 * Arrivals left without a vehicle are then stored at the end of their cities' queues, one INSERT
 * for all, in arrival order per city (the id is the queue order), and returned: an order that
 * finds a vehicle at once never has a queue row.
 */
export async function allocateVehicles(
  deps: AllocationDeps,
  tx: CityTransaction,
  cities: readonly CityToAllocate[],
): Promise<NewWaitingOrder[]> {
  const skip = new Map<string, number[]>(cities.map((c) => [c.key, []]));
  const arrivals = new Map(cities.map((c) => [c.key, c.arrivals]));
  const served = new Set<QueuedOrder>();
  const unserved = (key: string) => arrivals.get(key)!.filter((order) => !served.has(order));
  let open = cities.map((c) => ({ key: c.key, limit: c.arrivals.length + ROUND_SPARE }));
  while (open.length > 0) {
    const pages = open.map((c) => ({ ...c, skip: skip.get(c.key)! }));
    const free = byCity(await findFreeVehicles(tx.trx, pages));
    const withFree = open.filter((c) => free.has(c.key));
    const limits = withFree.map((c) => ({ key: c.key, limit: free.get(c.key)!.length }));
    const stored = byCity(await findOldestWaiting(tx.trx, limits));
    const rounds: Round[] = [];
    for (const c of withFree) {
      const vehicles = free.get(c.key)!;
      const orders = firstQueued(stored.get(c.key) ?? [], unserved(c.key), vehicles.length);
      if (orders.length > 0) rounds.push({ ...c, orders, vehicles });
    }
    const refusedBefore = new Map(rounds.map((r) => [r.key, skip.get(r.key)!.length]));
    const claims = await allocateRound(deps, tx, rounds, skip);
    for (const { order } of claims) served.add(order);
    const outcome = countByCity(claims);
    open = rounds.filter((r) =>
      mayHaveMore(r, outcome.get(r.key), skip.get(r.key)!.length - refusedBefore.get(r.key)!),
    );
  }
  const left = cities.flatMap((c) => unserved(c.key));
  await insertWaitingOrders(tx.trx, left);
  return left;
}

interface RoundOutcome {
  claimed: number;
  used: number;
}

interface Round {
  key: string;
  /** How many free vehicles the round asked for. */
  limit: number;
  orders: QueuedOrder[];
  vehicles: Vehicle[];
}

/**
 * The first `n` orders of a city's queue. `stored` are its oldest waiting_orders rows, at most
 * `n`: fewer are the whole stored queue, and its arrivals come next.
 */
function firstQueued(
  stored: readonly QueuedOrder[],
  arrivals: readonly QueuedOrder[],
  n: number,
): QueuedOrder[] {
  return [...stored, ...arrivals].slice(0, n);
}

/**
 * Done when the queue read was all there was and left, or the free vehicles read were all there
 * were and are taken or refused; otherwise another round, as long as this one moved.
 */
function mayHaveMore(r: Round, moved: RoundOutcome | undefined, refused: number): boolean {
  const { claimed, used } = moved ?? { claimed: 0, used: 0 };
  const drained = r.orders.length < r.vehicles.length && claimed === r.orders.length;
  const exhausted = r.vehicles.length < r.limit && used + refused >= r.vehicles.length;
  return (claimed > 0 || refused > 0) && !drained && !exhausted;
}

/**
 * One round over the cities; returns the orders that left the queue, oldest first per city, each
 * with its vehicle (an order found to have one already leaves without).
 */
async function allocateRound(
  deps: AllocationDeps,
  tx: CityTransaction,
  rounds: readonly Round[],
  skip: Map<string, number[]>,
): Promise<Claim[]> {
  const locked = await Promise.all(rounds.map((r) => lockVehicles(deps, tx, r.orders, r.vehicles)));
  rounds.forEach((r, i) => skip.get(r.key)!.push(...locked[i]!.refused));
  let claims: Claim[] = locked.flatMap((l) => l.claims);
  const inserted = await insertAssignments(tx.trx, claims.map(assignmentRow));
  if (inserted !== 'inserted') {
    // The final guard refused a row, and with it the whole statement: the same orders again, one
    // at a time, each assignment accepted or refused on its own.
    await Promise.all(claims.map(({ order, vehicle }) => vehicle && dropLock(deps, tx, vehicle, order)));
    claims = [];
    for (const r of rounds) claims.push(...(await walkOneByOne(deps, tx, r.orders, skip.get(r.key)!)));
  }
  await deleteWaitingOrders(
    tx.trx,
    claims.flatMap((c) => (c.order.id === undefined ? [] : [c.order.id])),
  );
  for (const { order, vehicle } of claims) if (vehicle) tx.allocated.push(allocationOf(order, vehicle));
  return claims;
}

/** Per city, how many orders left the queue and how many of them with a vehicle. */
function countByCity(claims: readonly Claim[]): Map<string, RoundOutcome> {
  const outcome = new Map<string, RoundOutcome>();
  for (const { order, vehicle } of claims) {
    const city = outcome.get(order.city_key) ?? { claimed: 0, used: 0 };
    outcome.set(order.city_key, { claimed: city.claimed + 1, used: city.used + (vehicle ? 1 : 0) });
  }
  return outcome;
}

function byCity<T extends { city_key: string }>(rows: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const group = groups.get(row.city_key);
    if (group) group.push(row);
    else groups.set(row.city_key, [row]);
  }
  return groups;
}

function assignmentRow({ order, vehicle }: Claim) {
  return {
    order_id: Number(order.order_id),
    order_number: order.order_number,
    vehicle_id: vehicle!.id,
    city_key: order.city_key,
  };
}

function allocationOf(order: QueuedOrder, vehicle: Vehicle): Allocation {
  return {
    orderId: Number(order.order_id),
    orderNumber: order.order_number,
    vehicleNumber: vehicle.vehicle_number,
    city: order.city,
    cityKey: order.city_key,
    correlationId: order.correlation_id,
  };
}
