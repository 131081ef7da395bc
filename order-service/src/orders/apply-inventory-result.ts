import { enqueueEvent, markEventProcessed, type Envelope, type Knex } from '@delivery/common';
import { lockOrderOfEvent, orderEventData } from './order-events.js';
import { canMove, statusesBefore } from './order-status.js';
import type { OrdersDeps } from './orders-deps.js';
import { updateOrderStatus, type Order } from './orders-repository.js';

type InventoryUpdated = Envelope<'order.inventory.updated'>;
type Outcome = 'confirmed' | 'rejected' | 'duplicate' | 'ignored';

/**
 * order.inventory.updated: RESERVED confirms a PENDING order and emits order.confirmed in the
 * same transaction; REJECTED rejects it. A repeated or late event changes nothing.
 */
export async function applyInventoryResult(deps: OrdersDeps, event: InventoryUpdated): Promise<void> {
  const { outcome, order } = await deps.db.transaction(async (trx) => {
    if (!(await markEventProcessed(trx, event))) return { outcome: 'duplicate' as const, order: undefined };
    const locked = await lockOrderOfEvent(trx, event.data.orderId);
    return { outcome: await decide(trx, locked, event), order: locked };
  });
  if (outcome === 'confirmed') deps.relay.notify();
  report(deps, event, outcome, order);
}

async function decide(trx: Knex.Transaction, order: Order, { data }: InventoryUpdated): Promise<Outcome> {
  const to = data.status === 'RESERVED' ? 'CONFIRMED' : 'REJECTED';
  if (!canMove(order.status, to)) return 'ignored';
  if (to === 'REJECTED') {
    const rejectionReason = (data.reason ?? 'Rejected by inventory').slice(0, 500);
    const moved = await updateOrderStatus(trx, order.id, statusesBefore(to), { status: to, rejectionReason });
    return moved ? 'rejected' : 'ignored';
  }
  if (!(await updateOrderStatus(trx, order.id, statusesBefore(to), { status: to }))) return 'ignored';
  await enqueueEvent(trx, { type: 'order.confirmed', key: order.id, data: orderEventData(order) });
  return 'confirmed';
}

function report(
  { logger }: OrdersDeps,
  event: InventoryUpdated,
  outcome: Outcome,
  order: Order | undefined,
): void {
  const { orderId, orderNumber, status, reason } = event.data;
  const fields = { orderId, orderNumber: order?.orderNumber ?? orderNumber, eventId: event.eventId };
  if (outcome === 'confirmed') logger.info(fields, `Order confirmed ${fields.orderNumber}`);
  else if (outcome === 'rejected') logger.info({ ...fields, reason }, `Order rejected ${fields.orderNumber}`);
  else if (outcome === 'duplicate') logger.debug(fields, 'order.inventory.updated already applied; skipped');
  else
    logger.debug(
      { ...fields, status, orderStatus: order?.status },
      `order.inventory.updated ${status} ignored: order is ${order?.status}`,
    );
}
