import { runWithCorrelationId, type Envelope } from '@delivery/common';
import { lockOrdersOfEvents, moveLocked } from './order-events.js';
import { canMove, statusesBefore, type OrderStatus } from './order-status.js';
import type { OrdersDeps } from './orders-deps.js';
import { moveOrders, setVehiclesIfMissing, type Order } from './orders-repository.js';

type OrderDispatched = Envelope<'order.dispatched'>;
type Outcome = 'dispatched' | 'vehicle_recorded' | 'ignored';

/** What became of one event; `orderStatus` is the status it found (the log says why it was ignored). */
interface Decision {
  event: OrderDispatched;
  outcome: Outcome;
  order?: Order;
  orderStatus?: OrderStatus;
  /** Moved by dispatchAll's statement already, before the lock was taken. */
  movedBefore?: boolean;
}

/**
 * order.dispatched, a batch at a time: a CONFIRMED order becomes DISPATCHED with its vehicle. The
 * status guard is what makes a repeat change nothing (a redelivered event finds the order moved
 * on), so no processed-event row is written. The usual batch, each order once and CONFIRMED, is
 * one guarded UPDATE and nothing else. Any other batch (a repeat, an order DELIVERED before this
 * event came, an unknown order) is decided in a transaction holding the orders' locks: a DELIVERED
 * order keeps its status but learns its vehicle; the rest is ignored.
 */
export async function recordDispatches(deps: OrdersDeps, events: readonly OrderDispatched[]): Promise<void> {
  const at = new Date();
  const decisions = (await dispatchAll(deps, events, at)) ?? (await decideLocked(deps, events, at));
  for (const decision of decisions)
    runWithCorrelationId(decision.event.correlationId, () => report(deps, decision));
}

/** Moves every order of the batch in one statement; undefined unless all of them moved. */
async function dispatchAll(
  deps: OrdersDeps,
  events: readonly OrderDispatched[],
  at: Date,
): Promise<Decision[] | undefined> {
  const changes = events.map((e) => ({ id: e.data.orderId, vehicleNumber: e.data.vehicleNumber }));
  if (new Set(changes.map((c) => c.id)).size !== changes.length) return undefined;
  const moved = await moveOrders(deps.db, changes, statusesBefore('DISPATCHED'), 'DISPATCHED', at);
  if (moved !== changes.length) return undefined;
  return events.map((event) => ({ event, outcome: 'dispatched' }));
}

/**
 * The batch's orders locked at once and the events decided in order against them; then one
 * UPDATE per outcome. An order dispatchAll moved just before (stamped `at`) counts as dispatched.
 */
async function decideLocked(
  deps: OrdersDeps,
  events: readonly OrderDispatched[],
  at: Date,
): Promise<Decision[]> {
  return deps.db.transaction(async (trx) => {
    const orders = await lockOrdersOfEvents(trx, events);
    const movedBefore = new Set(
      [...orders.values()]
        .filter((o) => o.status === 'DISPATCHED' && o.updatedAt.getTime() === at.getTime())
        .map((o) => o.id),
    );
    const decisions = events.map((event): Decision => {
      const order = orders.get(event.data.orderId)!;
      if (movedBefore.delete(order.id)) return { event, outcome: 'dispatched', order, movedBefore: true };
      return decide(order, event);
    });
    const vehicles = (outcome: Outcome) =>
      decisions
        .filter((d) => d.outcome === outcome && !d.movedBefore)
        .map((d) => ({ id: d.order!.id, vehicleNumber: d.event.data.vehicleNumber }));
    await moveLocked(trx, vehicles('dispatched'), 'DISPATCHED');
    const recordedVehicles = vehicles('vehicle_recorded');
    if ((await setVehiclesIfMissing(trx, recordedVehicles)) !== recordedVehicles.length)
      throw new Error('a locked delivered order already had its vehicle');
    return decisions;
  });
}

/** Decides one event against the locked order and applies the change to it in memory. */
function decide(order: Order, event: OrderDispatched): Decision {
  const orderStatus = order.status;
  if (canMove(orderStatus, 'DISPATCHED')) {
    order.status = 'DISPATCHED';
    order.vehicleNumber = event.data.vehicleNumber;
    return { event, outcome: 'dispatched', order, orderStatus };
  }
  if (orderStatus === 'DELIVERED' && order.vehicleNumber === null) {
    order.vehicleNumber = event.data.vehicleNumber;
    return { event, outcome: 'vehicle_recorded', order, orderStatus };
  }
  return { event, outcome: 'ignored', order, orderStatus };
}

function report({ logger }: OrdersDeps, { event, outcome, order, orderStatus }: Decision): void {
  const { orderId, vehicleNumber } = event.data;
  const orderNumber = order?.orderNumber ?? event.data.orderNumber;
  const fields = { orderId, orderNumber, vehicleNumber, eventId: event.eventId };
  if (outcome === 'dispatched') logger.info(fields, `Order dispatched ${orderNumber}`);
  else if (outcome === 'vehicle_recorded')
    logger.info(fields, `Vehicle recorded for delivered order ${orderNumber}`);
  else logger.debug({ ...fields, orderStatus }, `order.dispatched ignored: order is ${orderStatus}`);
}
