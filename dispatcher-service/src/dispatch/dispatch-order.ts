import type { OrderPlacedData } from '@delivery/common';
import { cityKey } from '../keys.js';
import { findAssignmentByOrder } from './assignments-repository.js';
import { allocateTo, inCityTransaction, serveWaitingOrders, type StopReason } from './allocate-vehicle.js';
import { ensureCityLock } from './city-locks-repository.js';
import type { DispatchDeps } from './dispatch-deps.js';
import { findOldestWaiting, insertWaitingOrder, isWaiting } from './waiting-orders-repository.js';

type Arrival =
  { kind: 'assigned' | 'queued' | 'waiting' | 'allocated' } | { kind: 'no_vehicles' | 'occupied' };

/**
 * order.confirmed (DESIGN.md §6). Under the city lock, in one transaction: an order with an
 * assignment is left alone; when nobody waits in its city, it takes a free vehicle at once (or,
 * with none free, joins the queue); when orders wait already, it joins the end of the queue and
 * the queue is served oldest first. A new order never overtakes one that has waited longer, and
 * the allocation itself is the same code a release or a registration runs.
 */
export async function dispatchOrder(
  deps: DispatchDeps,
  order: OrderPlacedData,
  correlationId: string,
): Promise<void> {
  const key = cityKey(order.city);
  await ensureCityLock(deps.db, key);
  const arrival = await arrive(deps, order, key, correlationId);
  if (arrival.kind === 'allocated') return;
  if (arrival.kind === 'assigned') {
    deps.logger.debug(
      { orderId: order.orderId, orderNumber: order.orderNumber },
      'order has a vehicle already; event ignored',
    );
    return;
  }
  if (arrival.kind === 'no_vehicles' || arrival.kind === 'occupied') {
    logWaiting(deps, order, arrival.kind);
    return;
  }
  // Behind others, or redelivered while waiting: a previous attempt may have failed before serving.
  const { allocated, stoppedBecause } = await serveWaitingOrders(deps, key);
  if (arrival.kind === 'waiting' || allocated.some((a) => a.orderId === order.orderId)) return;
  // Another instance may have served it meanwhile; then that one logged the allocation.
  if (await isWaiting(deps.db, order.orderId)) logWaiting(deps, order, stoppedBecause);
}

/** Idempotent: an order with an assignment, or already waiting, is left as it is. */
function arrive(deps: DispatchDeps, order: OrderPlacedData, key: string, correlationId: string) {
  const candidate = {
    order_id: order.orderId,
    order_number: order.orderNumber,
    city: order.city.trim(),
    city_key: key,
    correlation_id: correlationId,
  };
  return inCityTransaction(deps, key, async (trx, held): Promise<Arrival> => {
    if (await findAssignmentByOrder(deps.db, order.orderId, trx)) return { kind: 'assigned' };
    if (await findOldestWaiting(trx, key)) {
      return { kind: (await insertWaitingOrder(deps.db, candidate, trx)) ? 'queued' : 'waiting' };
    }
    const step = await allocateTo(deps, trx, candidate, held);
    if (step.kind === 'served_already') return { kind: 'assigned' };
    if (step.kind === 'no_vehicles' || step.kind === 'occupied') {
      // Nobody before it and no vehicle for it: it waits, first in line.
      await insertWaitingOrder(deps.db, candidate, trx);
      return { kind: step.kind };
    }
    return step.kind === 'allocated' ? step : { kind: 'assigned' };
  });
}

function logWaiting(deps: DispatchDeps, order: OrderPlacedData, reason: StopReason): void {
  const fields = { orderId: order.orderId, orderNumber: order.orderNumber, city: order.city };
  if (reason === 'no_vehicles')
    deps.logger.info(fields, `Cannot find vehicle for order ${order.orderNumber}`);
  if (reason === 'occupied') deps.logger.info(fields, 'All vehicles occupied');
}
