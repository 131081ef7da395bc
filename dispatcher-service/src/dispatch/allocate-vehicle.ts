import { enqueueEvent, runWithCorrelationId, type Knex } from '@delivery/common';
import { countVehiclesOfCity, findFreeVehicles, type Vehicle } from '../vehicles/vehicles-repository.js';
import { insertAssignment } from './assignments-repository.js';
import { ensureCityLock, lockCity } from './city-locks-repository.js';
import type { DispatchDeps } from './dispatch-deps.js';
import { deleteWaitingOrder, findOldestWaiting, type WaitingOrder } from './waiting-orders-repository.js';

/** Free vehicles read per query; more pages are read only while locks are refused. */
const WALK_PAGE = 20;

export interface Allocation {
  orderId: number;
  orderNumber: string;
  vehicleNumber: string;
  city: string;
  cityKey: string;
}

/** Why serving a city's queue stopped: nobody waits, no vehicle is registered, or all are busy. */
export type StopReason = 'no_waiting' | 'no_vehicles' | 'occupied';

export type Step =
  | { kind: 'allocated'; allocation: Allocation; correlationId: string }
  | { kind: 'served_already' }
  | { kind: StopReason };

/** The Redis lock taken in the open transaction, to drop if that transaction does not commit. */
export interface HeldLock {
  lock?: { vehicleKey: string; orderId: number };
}

/** An order to give a vehicle to: a waiting one (with its queue row), or one just confirmed. */
export type Candidate = Omit<WaitingOrder, 'id'> & { id?: number };

/**
 * Serves the city's waiting orders, oldest first, while the city has a free vehicle. The
 * consumer (after queueing the new order), a release, a registration and the reconciler all
 * allocate through this one function.
 */
export async function serveWaitingOrders(
  deps: DispatchDeps,
  key: string,
): Promise<{ allocated: Allocation[]; stoppedBecause: StopReason }> {
  await ensureCityLock(deps.db, key);
  const allocated: Allocation[] = [];
  for (;;) {
    const step = await allocateOldestWaiting(deps, key);
    if (step.kind === 'allocated') allocated.push(step.allocation);
    else if (step.kind !== 'served_already') return { allocated, stoppedBecause: step.kind };
  }
}

/**
 * The vehicle change is committed and stands; if serving the queue fails now, the reconciler
 * serves it on its next pass, so the caller still gets its answer.
 */
export async function serveWaitingOrdersAfter(deps: DispatchDeps, key: string, what: string): Promise<void> {
  try {
    await serveWaitingOrders(deps, key);
  } catch (err) {
    deps.logger.error(
      { err, city: key },
      `serving waiting orders after ${what} failed; the reconciler will retry`,
    );
  }
}

/**
 * Runs `work` in one transaction holding the city lock (see lockCity): every allocation goes
 * through here. A Redis lock taken for an assignment that does not commit is dropped again, and
 * a committed allocation is announced (log line, metric, relay woken).
 */
export async function inCityTransaction<T extends { kind: string }>(
  deps: DispatchDeps,
  key: string,
  work: (trx: Knex.Transaction, held: HeldLock) => Promise<T>,
): Promise<T> {
  const held: HeldLock = {};
  let result: T;
  try {
    // READ COMMITTED, every connection's level: each read sees the latest commit of the city.
    result = await deps.db.transaction(async (trx): Promise<T> => {
      await lockCity(trx, key);
      return work(trx, held);
    });
  } catch (err) {
    // No assignment committed: a lock taken for it must not keep the vehicle busy.
    if (held.lock) await deps.locks.release(held.lock.vehicleKey, held.lock.orderId).catch(() => undefined);
    throw err;
  }
  const step = result as unknown as Step;
  if (step.kind === 'allocated') announce(deps, step.allocation, step.correlationId);
  return result;
}

/** One allocation, for the oldest waiting order of the city. */
function allocateOldestWaiting(deps: DispatchDeps, key: string): Promise<Step> {
  return inCityTransaction(deps, key, async (trx, held): Promise<Step> => {
    const order = await findOldestWaiting(trx, key);
    if (!order) return { kind: 'no_waiting' };
    // The late allocation belongs to the flow that confirmed the order: its event carries that id.
    return runWithCorrelationId(order.correlation_id, () => allocateTo(deps, trx, order, held));
  });
}

/** Gives the candidate a free vehicle in the open city transaction, removing it from the queue if it waited. */
export async function allocateTo(
  deps: DispatchDeps,
  trx: Knex.Transaction,
  order: Candidate,
  held: HeldLock,
): Promise<Step> {
  const vehicle = await claimFreeVehicle(deps, trx, order, held);
  if (vehicle === 'order_assigned') {
    if (order.id !== undefined) await deleteWaitingOrder(trx, order.id);
    return { kind: 'served_already' };
  }
  if (!vehicle) {
    const registered = await countVehiclesOfCity(deps.db, order.city_key, trx);
    return { kind: registered === 0 ? 'no_vehicles' : 'occupied' };
  }
  if (order.id !== undefined) await deleteWaitingOrder(trx, order.id);
  const allocation: Allocation = {
    orderId: Number(order.order_id),
    orderNumber: order.order_number,
    vehicleNumber: vehicle.vehicle_number,
    city: order.city,
    cityKey: order.city_key,
  };
  const { orderId, orderNumber, vehicleNumber, city } = allocation;
  await enqueueEvent(trx, {
    type: 'order.dispatched',
    key: orderId,
    data: { orderId, orderNumber, vehicleNumber, city },
  });
  return { kind: 'allocated', allocation, correlationId: order.correlation_id };
}

/**
 * Walks the city's free vehicles, least recently released first: the first whose Redis lock we
 * take and whose assignment the unique index accepts is ours.
 */
async function claimFreeVehicle(
  deps: DispatchDeps,
  trx: Knex.Transaction,
  order: Candidate,
  held: HeldLock,
): Promise<Vehicle | 'order_assigned' | undefined> {
  const orderId = Number(order.order_id);
  for (let offset = 0; ; offset += WALK_PAGE) {
    const page = await findFreeVehicles(trx, order.city_key, WALK_PAGE, offset);
    for (const vehicle of page) {
      // A lock the database does not know of: an allocation committing elsewhere, or a stale
      // lock the reconciler will clear. Either way the vehicle is not ours now.
      if (!(await deps.locks.acquire(vehicle.vehicle_key, orderId))) continue;
      held.lock = { vehicleKey: vehicle.vehicle_key, orderId };
      const inserted = await insertAssignment(trx, {
        order_id: orderId,
        order_number: order.order_number,
        vehicle_id: vehicle.id,
        city_key: order.city_key,
      });
      if (inserted === 'inserted') return vehicle;
      // The final guard refused (vehicle active elsewhere, or the order already has one): drop our lock.
      await deps.locks.release(vehicle.vehicle_key, orderId);
      held.lock = undefined;
      if (inserted === 'order_assigned') return 'order_assigned';
    }
    if (page.length < WALK_PAGE) return undefined;
  }
}

function announce(deps: DispatchDeps, allocation: Allocation, correlationId: string): void {
  deps.relay.notify();
  deps.metrics.allocations.inc({ city: allocation.cityKey });
  const { orderId, orderNumber, vehicleNumber, city } = allocation;
  runWithCorrelationId(correlationId, () =>
    deps.logger.info(
      { orderId, orderNumber, vehicle_number: vehicleNumber, city },
      `Vehicle allocated for order ${orderNumber}`,
    ),
  );
}
