import { cityKey, onEvents, runWithCorrelationId, type Envelope } from '@delivery/common';
import { allocateVehicles } from './allocate-vehicles.js';
import { closeAssignments } from './assignments-repository.js';
import { ensureCityLock } from './city-locks-repository.js';
import { inCityTransaction } from './city-transaction.js';
import type { DispatchDeps } from './dispatch-deps.js';
import {
  lockActiveAssignmentsOf,
  ordersReleasedAlready,
  recordFinishedOrders,
  removeWaitingOrders,
  type CarriedOrder,
  type Outcome,
} from './finished-orders-repository.js';

/** An order that reached DELIVERED or CANCELLED in order-service, and the flow that moved it. */
export interface FinishedOrder {
  orderId: number;
  orderNumber: string;
  city: string;
  outcome: Outcome;
  correlationId: string;
}

/**
 * order.delivered and order.cancelled, a batch at a time, in one transaction holding the locks
 * of their cities: each order is recorded as finished (an order.confirmed that comes later is
 * ignored), leaves its city's queue if it waits, and frees the vehicle that carries it — the
 * assignment closed by order id and the lock compare-and-deleted with the order id, so a vehicle
 * that already carries the next order is never touched. Freed vehicles go to the oldest waiting
 * orders of their cities in the same transaction. A repeated event finds nothing left to do.
 */
export async function finishOrders(deps: DispatchDeps, finished: readonly FinishedOrder[]): Promise<void> {
  const first = new Map<number, FinishedOrder>();
  for (const f of finished) if (!first.has(f.orderId)) first.set(f.orderId, f);
  // The usual case (a vehicle's release delivered the order) is settled by one read and one
  // INSERT, without a transaction or the cities' locks: such an order can never queue again.
  // The others are handled under their cities' locks.
  const done = await ordersReleasedAlready(deps.db, [...first.keys()]);
  await recordFinishedOrders(
    deps.db,
    [...first.values()].filter((o) => done.has(o.orderId)),
  );
  const orders = [...first.values()].filter((o) => !done.has(o.orderId));
  if (orders.length === 0) return;
  const ids = orders.map((o) => o.orderId);
  const keys = [...new Set(orders.map((o) => cityKey(o.city)))].sort();
  for (const key of keys) await ensureCityLock(deps.db, key);

  await inCityTransaction(
    deps,
    keys,
    async (tx) => {
      await recordFinishedOrders(tx.trx, orders);
      const dropped = await removeWaitingOrders(tx.trx, ids);
      const freed = await lockActiveAssignmentsOf(tx.trx, ids);
      await closeAssignments(
        tx.trx,
        freed.map((c) => c.id),
      );
      // The finished orders' locks go first, or their vehicles would look taken to allocateVehicles.
      await Promise.all(freed.map((c) => deps.locks.release(c.vehicle_key, c.order_id)));
      const cities = [...new Set(freed.map((c) => c.city_key))].filter((key) => keys.includes(key));
      await allocateVehicles(
        deps,
        tx,
        cities.map((key) => ({ key, arrivals: [] })),
      );
      return { dropped, freed };
    },
    // Logged once committed, each in its order's flow, before the allocations they made possible.
    ({ dropped, freed }) => {
      for (const orderId of dropped) {
        const order = first.get(orderId)!;
        runWithCorrelationId(order.correlationId, () => leftQueue(deps, order));
        deps.metrics.finished.inc({ outcome: order.outcome });
      }
      for (const carried of freed) {
        const order = first.get(carried.order_id)!;
        runWithCorrelationId(order.correlationId, () => vehicleFreed(deps, order, carried));
        deps.metrics.finished.inc({ outcome: order.outcome });
      }
    },
  );
}

function leftQueue(deps: DispatchDeps, order: FinishedOrder): void {
  deps.logger.info(
    { orderId: order.orderId, orderNumber: order.orderNumber, city: order.city, outcome: order.outcome },
    `Order ${order.orderNumber} left the queue: ${order.outcome}`,
  );
}

function vehicleFreed(deps: DispatchDeps, order: FinishedOrder, carried: CarriedOrder): void {
  deps.logger.info(
    {
      orderId: order.orderId,
      orderNumber: order.orderNumber,
      vehicle_number: carried.vehicle_number,
      city: carried.city,
      outcome: order.outcome,
    },
    `Vehicle released from order ${order.orderNumber}`,
  );
}

/** The dispatcher's handlers of order.delivered and order.cancelled (the loop has validated them). */
export function finishedOrderHandlers(deps: DispatchDeps) {
  const finished = (outcome: Outcome) => (e: Envelope<'order.delivered' | 'order.cancelled'>) => ({
    orderId: e.data.orderId,
    orderNumber: e.data.orderNumber,
    city: e.data.city,
    outcome,
    correlationId: e.correlationId,
  });
  return [
    onEvents('order.delivered', (events) => finishOrders(deps, events.map(finished('DELIVERED')))),
    onEvents('order.cancelled', (events) => finishOrders(deps, events.map(finished('CANCELLED')))),
  ];
}
