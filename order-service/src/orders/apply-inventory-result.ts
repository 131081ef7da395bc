import { enqueueEvents, runWithCorrelationId, type Envelope, type NewEvent } from '@delivery/common';
import { lockOrdersOfEvents, moveLocked, orderEventData } from './order-events.js';
import { canMove, type OrderStatus } from './order-status.js';
import type { OrdersDeps } from './orders-deps.js';
import type { Order } from './orders-repository.js';

type InventoryUpdated = Envelope<'order.inventory.updated'>;
type Outcome = 'confirmed' | 'rejected' | 'ignored';

/** What became of one event; `orderStatus` is the status it found (the log says why it was ignored). */
interface Decision {
  event: InventoryUpdated;
  outcome: Outcome;
  order?: Order;
  orderStatus?: OrderStatus;
}

/**
 * order.inventory.updated, a batch in one transaction: RESERVED confirms a PENDING order and
 * emits order.confirmed in the same transaction; REJECTED rejects it. A repeated or late event
 * changes nothing: only a PENDING order moves, so the status is the dedup and no processed-event
 * row is written. The batch's orders are locked at once and the events decided in order against
 * them, so two events of one order see each other; then one UPDATE per outcome and one outbox
 * INSERT, whatever the batch size.
 */
export async function applyInventoryResults(
  deps: OrdersDeps,
  events: readonly InventoryUpdated[],
): Promise<void> {
  const { decisions, enqueued } = await deps.db.transaction(async (trx) => {
    const reserved = events.filter((e) => e.data.status === 'RESERVED').map((e) => e.data.orderId);
    const orders = await lockOrdersOfEvents(trx, events, reserved);
    const decisions = events.map((event) => decide(orders.get(event.data.orderId)!, event));
    const confirmed = decisions.filter((d) => d.outcome === 'confirmed');
    await moveLocked(
      trx,
      confirmed.map((d) => ({ id: d.order!.id })),
      'CONFIRMED',
    );
    await moveLocked(trx, decisions.filter((d) => d.outcome === 'rejected').map(rejection), 'REJECTED');
    const enqueued = await enqueueEvents(trx, confirmed.map(confirmation));
    return { decisions, enqueued };
  });
  if (enqueued.messages.length > 0) deps.relay.notify(enqueued);
  for (const decision of decisions)
    runWithCorrelationId(decision.event.correlationId, () => report(deps, decision));
}

/** Decides one event against the locked order and applies the move to it in memory. */
function decide(order: Order, event: InventoryUpdated): Decision {
  const to = event.data.status === 'RESERVED' ? 'CONFIRMED' : 'REJECTED';
  const orderStatus = order.status;
  if (!canMove(orderStatus, to)) return { event, outcome: 'ignored', order, orderStatus };
  order.status = to;
  return { event, outcome: to === 'CONFIRMED' ? 'confirmed' : 'rejected', order, orderStatus };
}

/** order.confirmed, in the flow of the event that confirmed the order. */
function confirmation({ order, event }: Decision): NewEvent<'order.confirmed'> {
  return {
    type: 'order.confirmed',
    key: order!.id,
    data: orderEventData(order!),
    correlationId: event.correlationId,
  };
}

function rejection({ order, event }: Decision) {
  return { id: order!.id, rejectionReason: (event.data.reason ?? 'Rejected by inventory').slice(0, 500) };
}

function report({ logger }: OrdersDeps, { event, outcome, order, orderStatus }: Decision): void {
  const { orderId, orderNumber, status, reason } = event.data;
  const fields = { orderId, orderNumber: order?.orderNumber ?? orderNumber, eventId: event.eventId };
  if (outcome === 'confirmed') logger.info(fields, `Order confirmed ${fields.orderNumber}`);
  else if (outcome === 'rejected') logger.info({ ...fields, reason }, `Order rejected ${fields.orderNumber}`);
  else
    logger.debug(
      { ...fields, status, orderStatus },
      `order.inventory.updated ${status} ignored: order is ${orderStatus}`,
    );
}
