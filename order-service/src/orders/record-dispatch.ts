import { keepFreshEvents, runWithCorrelationId, type Envelope } from '@delivery/common';
import { lockOrdersOfEvents, moveLocked } from './order-events.js';
import { canMove, type OrderStatus } from './order-status.js';
import type { OrdersDeps } from './orders-deps.js';
import { setVehiclesIfMissing, type Order } from './orders-repository.js';

type OrderDispatched = Envelope<'order.dispatched'>;
type Outcome = 'dispatched' | 'vehicle_recorded' | 'duplicate' | 'ignored';

/** What became of one event; `orderStatus` is the status it found (the log says why it was ignored). */
interface Decision {
  event: OrderDispatched;
  outcome: Outcome;
  order?: Order;
  orderStatus?: OrderStatus;
}

/**
 * order.dispatched, a batch in one transaction: a CONFIRMED order becomes DISPATCHED with its
 * vehicle. An order already DELIVERED (the release overtook this event) keeps its status but
 * learns its vehicle. The batch's orders are locked at once and the events decided in order
 * against them; then one UPDATE per outcome, whatever the batch size.
 */
export async function recordDispatches(deps: OrdersDeps, events: readonly OrderDispatched[]): Promise<void> {
  const decisions = await deps.db.transaction(async (trx) => {
    const { fresh, isFresh } = await keepFreshEvents(trx, events);
    const orders = await lockOrdersOfEvents(trx, fresh);
    const decisions = events.map((event, i): Decision =>
      isFresh[i] ? decide(orders.get(event.data.orderId)!, event) : { event, outcome: 'duplicate' },
    );
    const vehicles = (outcome: Outcome) =>
      decisions
        .filter((d) => d.outcome === outcome)
        .map((d) => ({ id: d.order!.id, vehicleNumber: d.event.data.vehicleNumber }));
    await moveLocked(trx, vehicles('dispatched'), 'DISPATCHED');
    const recordedVehicles = vehicles('vehicle_recorded');
    if ((await setVehiclesIfMissing(trx, recordedVehicles)) !== recordedVehicles.length)
      throw new Error('a locked delivered order already had its vehicle');
    return decisions;
  });
  for (const decision of decisions)
    runWithCorrelationId(decision.event.correlationId, () => report(deps, decision));
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
  else if (outcome === 'duplicate') logger.debug(fields, 'order.dispatched already applied; skipped');
  else logger.debug({ ...fields, orderStatus }, `order.dispatched ignored: order is ${orderStatus}`);
}
