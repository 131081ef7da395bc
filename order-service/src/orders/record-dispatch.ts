import { markEventProcessed, type Envelope, type Knex } from '@delivery/common';
import { lockOrderOfEvent } from './order-events.js';
import { canMove, statusesBefore } from './order-status.js';
import type { OrdersDeps } from './orders-deps.js';
import { setVehicleIfMissing, updateOrderStatus, type Order } from './orders-repository.js';

type OrderDispatched = Envelope<'order.dispatched'>;
type Outcome = 'dispatched' | 'vehicle_recorded' | 'duplicate' | 'ignored';

/**
 * order.dispatched: a CONFIRMED order becomes DISPATCHED with its vehicle. An order already
 * DELIVERED (the release overtook this event) keeps its status but learns its vehicle.
 */
export async function recordDispatch(deps: OrdersDeps, event: OrderDispatched): Promise<void> {
  const { orderId, vehicleNumber } = event.data;
  const { outcome, order } = await deps.db.transaction(async (trx) => {
    if (!(await markEventProcessed(trx, event))) return { outcome: 'duplicate' as const, order: undefined };
    // The usual case in one statement, guarded like every move: a CONFIRMED order gets its vehicle.
    const to = { status: 'DISPATCHED' as const, vehicleNumber };
    if (await updateOrderStatus(trx, orderId, statusesBefore('DISPATCHED'), to))
      return { outcome: 'dispatched' as const, order: undefined };
    const locked = await lockOrderOfEvent(trx, orderId);
    return { outcome: await decide(trx, locked, vehicleNumber), order: locked };
  });
  report(deps, event, outcome, order);
}

async function decide(trx: Knex.Transaction, order: Order, vehicleNumber: string): Promise<Outcome> {
  if (canMove(order.status, 'DISPATCHED')) {
    const moved = await updateOrderStatus(trx, order.id, statusesBefore('DISPATCHED'), {
      status: 'DISPATCHED',
      vehicleNumber,
    });
    return moved ? 'dispatched' : 'ignored';
  }
  if (order.status === 'DELIVERED' && order.vehicleNumber === null) {
    return (await setVehicleIfMissing(trx, order.id, vehicleNumber)) ? 'vehicle_recorded' : 'ignored';
  }
  return 'ignored';
}

function report(
  { logger }: OrdersDeps,
  event: OrderDispatched,
  outcome: Outcome,
  order: Order | undefined,
): void {
  const { orderId, vehicleNumber } = event.data;
  const orderNumber = order?.orderNumber ?? event.data.orderNumber;
  const fields = { orderId, orderNumber, vehicleNumber, eventId: event.eventId };
  if (outcome === 'dispatched') logger.info(fields, `Order dispatched ${orderNumber}`);
  else if (outcome === 'vehicle_recorded')
    logger.info(fields, `Vehicle recorded for delivered order ${orderNumber}`);
  else if (outcome === 'duplicate') logger.debug(fields, 'order.dispatched already applied; skipped');
  else
    logger.debug(
      { ...fields, orderStatus: order?.status },
      `order.dispatched ignored: order is ${order?.status}`,
    );
}
