import { findFreeVehicles, type Vehicle } from '../vehicles/vehicles-repository.js';
import { insertAssignments } from './assignments-repository.js';
import type { Allocation, CityTransaction } from './city-transaction.js';
import { dropLock, lockVehicles, walkOneByOne, type Claim } from './claim-vehicles.js';
import type { AllocationDeps } from './dispatch-deps.js';
import { deleteWaitingOrders, findOldestWaiting, type WaitingOrder } from './waiting-orders-repository.js';

/**
 * Free vehicles read per city and round beyond the orders that just arrived: room for refused
 * locks, and for the queue a release or a registration serves, without another round.
 */
const ROUND_SPARE = 8;

/** A city whose queue to allocate, and how many of its orders arrived in this transaction. */
export interface CityToAllocate {
  key: string;
  arrivals: number;
}

/**
 * The one allocation function (DESIGN.md §6, steps 2 and 3), for a confirmed order, a release, a
 * registration, a finished order and the reconciler alike. Gives the cities' waiting orders their
 * free vehicles in the open transaction: per round, the k oldest waiting orders of each city get
 * its k least recently released free vehicles (k = min(waiting, free)), with one statement
 * reading the free vehicles of every city, one the waiting orders, one SET NX per allocation, one
 * multi-row INSERT of the assignments and one DELETE of the served queue rows. Another round only
 * while a city may have more of both.
 */
export async function allocateVehicles(
  deps: AllocationDeps,
  tx: CityTransaction,
  cities: readonly CityToAllocate[],
): Promise<void> {
  const skip = new Map<string, number[]>(cities.map((c) => [c.key, []]));
  let open = cities.map((c) => ({ key: c.key, limit: c.arrivals + ROUND_SPARE }));
  while (open.length > 0) {
    const pages = open.map((c) => ({ ...c, skip: skip.get(c.key)! }));
    const free = byCity(await findFreeVehicles(tx.trx, pages));
    const withFree = open.filter((c) => free.has(c.key));
    const limits = withFree.map((c) => ({ key: c.key, limit: free.get(c.key)!.length }));
    const waiting = byCity(await findOldestWaiting(tx.trx, limits));
    const rounds = withFree
      .filter((c) => waiting.has(c.key))
      .map((c) => ({ ...c, orders: waiting.get(c.key)!, vehicles: free.get(c.key)! }));
    const refusedBefore = new Map(rounds.map((r) => [r.key, skip.get(r.key)!.length]));
    const outcome = await allocateRound(deps, tx, rounds, skip);
    open = rounds.filter((r) => {
      const { claimed, used } = outcome.get(r.key) ?? { claimed: 0, used: 0 };
      const refused = skip.get(r.key)!.length - refusedBefore.get(r.key)!;
      // Done when the queue read was all there was and left, or the free vehicles read were all
      // there were and are taken or refused; otherwise another round, as long as this one moved.
      const drained = r.orders.length < r.vehicles.length && claimed === r.orders.length;
      const exhausted = r.vehicles.length < r.limit && used + refused >= r.vehicles.length;
      return (claimed > 0 || refused > 0) && !drained && !exhausted;
    });
  }
}

interface Round {
  key: string;
  orders: WaitingOrder[];
  vehicles: Vehicle[];
}

/**
 * One round over the cities; returns, per city, how many waiting orders left the queue and how
 * many of them with a vehicle (an order found to have one already leaves without).
 */
async function allocateRound(
  deps: AllocationDeps,
  tx: CityTransaction,
  rounds: readonly Round[],
  skip: Map<string, number[]>,
): Promise<Map<string, { claimed: number; used: number }>> {
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
    claims.map((c) => c.order.id),
  );
  const outcome = new Map<string, { claimed: number; used: number }>();
  for (const { order, vehicle } of claims) {
    const city = outcome.get(order.city_key) ?? { claimed: 0, used: 0 };
    outcome.set(order.city_key, { claimed: city.claimed + 1, used: city.used + (vehicle ? 1 : 0) });
    if (vehicle) tx.allocated.push(allocationOf(order, vehicle));
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

function allocationOf(order: WaitingOrder, vehicle: Vehicle): Allocation {
  return {
    orderId: Number(order.order_id),
    orderNumber: order.order_number,
    vehicleNumber: vehicle.vehicle_number,
    city: order.city,
    cityKey: order.city_key,
    correlationId: order.correlation_id,
  };
}
