import { findFreeVehicles, type Vehicle } from '../vehicles/vehicles-repository.js';
import { insertAssignments } from './assignments-repository.js';
import type { CityTransaction } from './city-transaction.js';
import type { AllocationDeps } from './dispatch-deps.js';
import type { QueuedOrder } from './waiting-orders-repository.js';

/** Free vehicles read per query by the one-at-a-time walk. */
const WALK_PAGE = 20;

/** A queued order and the vehicle locked for it; none when it turned out to have one already. */
export interface Claim {
  order: QueuedOrder;
  vehicle?: Vehicle;
}

/**
 * Locks vehicles (in walk order) for the oldest orders of one city (oldest first). Usually every
 * lock is free: one SET NX per order, all sent at once, so one Redis command per allocation
 * however many vehicles the city has. Those served must stay the oldest, so after a refused lock
 * the orders behind it give theirs back and the walk goes on one lock at a time. Returns the
 * claims, the oldest orders first, and the vehicles whose lock was refused.
 */
export async function lockVehicles(
  deps: AllocationDeps,
  tx: CityTransaction,
  orders: readonly QueuedOrder[],
  vehicles: readonly Vehicle[],
): Promise<{ claims: Claim[]; refused: number[] }> {
  const first = orders.slice(0, vehicles.length).map((order, i) => ({ order, vehicle: vehicles[i]! }));
  const taken = await Promise.all(first.map(({ order, vehicle }) => takeLock(deps, tx, vehicle, order)));
  const gap = taken.indexOf(false);
  if (gap === -1) return { claims: first, refused: [] };

  const claims: Claim[] = first.slice(0, gap);
  const refused = first.filter((_, i) => !taken[i]).map((c) => c.vehicle.id);
  await Promise.all(
    first.map(({ order, vehicle }, i) =>
      i > gap && taken[i] ? dropLock(deps, tx, vehicle, order) : undefined,
    ),
  );
  const rest = vehicles.slice(gap).filter((v) => !refused.includes(v.id));
  let next = 0;
  for (const order of orders.slice(gap)) {
    let vehicle: Vehicle | undefined;
    while (!vehicle && next < rest.length) {
      const candidate = rest[next++]!;
      if (await takeLock(deps, tx, candidate, order)) vehicle = candidate;
      else refused.push(candidate.id);
    }
    if (!vehicle) break;
    claims.push({ order, vehicle });
  }
  return { claims, refused };
}

/**
 * The walk of old, for when the final guard refused a multi-row insert: each order in turn, oldest
 * first, takes the first free vehicle whose lock it gets and whose assignment the unique indexes
 * accept. An order that has an assignment already leaves the queue without a vehicle. Vehicles
 * refused go into `skip`. Stops at the first order no vehicle is left for.
 */
export async function walkOneByOne(
  deps: AllocationDeps,
  tx: CityTransaction,
  orders: readonly QueuedOrder[],
  skip: number[],
): Promise<Claim[]> {
  const claims: Claim[] = [];
  for (const order of orders) {
    const claim = await claimFreeVehicle(deps, tx, order, skip);
    if (!claim) break;
    claims.push(claim);
  }
  return claims;
}

async function claimFreeVehicle(
  deps: AllocationDeps,
  tx: CityTransaction,
  order: QueuedOrder,
  skip: number[],
): Promise<Claim | undefined> {
  for (;;) {
    const page = await findFreeVehicles(tx.trx, [{ key: order.city_key, limit: WALK_PAGE, skip }]);
    for (const vehicle of page) {
      if (!(await takeLock(deps, tx, vehicle, order))) {
        skip.push(vehicle.id);
        continue;
      }
      const inserted = await insertAssignments(tx.trx, [
        {
          order_id: Number(order.order_id),
          order_number: order.order_number,
          vehicle_id: vehicle.id,
          city_key: order.city_key,
        },
      ]);
      if (inserted === 'inserted') return { order, vehicle };
      // The final guard refused (vehicle active elsewhere, or the order already has one): drop our lock.
      await dropLock(deps, tx, vehicle, order);
      if (inserted === 'order_assigned') return { order };
      skip.push(vehicle.id);
    }
    if (page.length < WALK_PAGE) return undefined;
  }
}

/**
 * SET NX of the vehicle's lock for the order, remembered in the transaction. Refused: a lock the
 * database does not know of, a release between its commit and its compare-and-delete or a stale
 * lock the reconciler will clear; either way the vehicle is not ours now.
 */
async function takeLock(
  deps: AllocationDeps,
  tx: CityTransaction,
  vehicle: Vehicle,
  order: QueuedOrder,
): Promise<boolean> {
  if (!(await deps.locks.acquire(vehicle.vehicle_key, Number(order.order_id)))) return false;
  tx.held.set(vehicle.vehicle_key, Number(order.order_id));
  return true;
}

/**
 * Compare-and-delete of a lock taken in the transaction, which no longer holds it: the one way a
 * lock taken for an allocation is given back (§6 step 3, "drop your lock and go on walking").
 */
export async function dropLock(
  deps: AllocationDeps,
  tx: CityTransaction,
  vehicle: Vehicle,
  order: QueuedOrder,
): Promise<void> {
  await deps.locks.release(vehicle.vehicle_key, Number(order.order_id));
  tx.held.delete(vehicle.vehicle_key);
}
