import { AppError, enqueueEvents, runWithCorrelationId, type Trx, type NewEvent } from '@delivery/common';
import type { DeliveriesInput } from './order-schemas.js';
import { MANUAL_STATUSES, canMove, type OrderStatus } from './order-status.js';
import { cancellationsCounter, type OrdersDeps } from './orders-deps.js';
import { findOrdersByIds, moveOrders, type Order } from './orders-repository.js';

/** A status set by hand or by the dispatcher's release: DELIVERED or CANCELLED (see MANUAL_STATUSES). */
export interface StatusChange {
  status: OrderStatus;
  /** CANCELLED only: the customer's words, kept with the order and sent with its event. */
  reason?: string;
}

/**
 * PATCH /orders/:id (and POST /orders/:id/cancel): the current status is a no-op, a forward move
 * is applied, anything else is 409. The move and its event (order.delivered, order.cancelled)
 * commit together, so the dispatcher and inventory hear of every one.
 */
export async function changeOrderStatus(deps: OrdersDeps, id: number, change: StatusChange): Promise<Order> {
  const at = new Date();
  const { order, enqueued } = await deps.db.transaction(async (trx) => {
    const current = (await findOrdersByIds(trx, [id], { itemsOf: [id], forUpdate: true })).get(id);
    if (!current) throw orderNotFound(id);
    if (current.status === change.status) return { order: current, enqueued: undefined };
    if (!MANUAL_STATUSES.includes(change.status) || !canMove(current.status, change.status))
      throw invalidTransition(current, change.status);
    const [moved] = await applyMoves(trx, [current], change, at);
    return { order: moved!, enqueued: await enqueueEvents(trx, [statusEvent(moved!)]) };
  });
  if (enqueued) {
    deps.relay.notify(enqueued);
    reportMove(deps, order);
  }
  return order;
}

/** One order's outcome in POST /orders/deliveries: what PATCH /orders/:id would have answered. */
export type DeliveryResult =
  | { orderId: number; ok: true }
  | { orderId: number; ok: false; status: number; error: { code: string; message: string } };

/**
 * POST /orders/deliveries, the dispatcher's request for the releases it has in hand: the orders are
 * locked and decided in one read, every deliverable one moves in one UPDATE, and their
 * order.delivered events go in one outbox INSERT, whatever their number. Each delivery gets
 * exactly PATCH's answer (404, 409 with the same message; DELIVERED already is ok).
 */
export async function deliverOrders(
  deps: OrdersDeps,
  deliveries: DeliveriesInput,
): Promise<DeliveryResult[]> {
  const at = new Date();
  const ids = [...new Set(deliveries.map((d) => d.orderId))];
  // Each order's move belongs to the flow of its first release in the request.
  const flowOf = new Map<number, string | undefined>();
  for (const d of deliveries) if (!flowOf.has(d.orderId)) flowOf.set(d.orderId, d.correlationId);

  const { orders, moved, enqueued } = await deps.db.transaction(async (trx) => {
    const orders = await findOrdersByIds(trx, ids, { forUpdate: true });
    const deliverable = [...orders.values()].filter((o) => canMove(o.status, 'DELIVERED'));
    const moved = await applyMoves(trx, deliverable, { status: 'DELIVERED' }, at);
    for (const order of moved) orders.set(order.id, order);
    const events = moved.map((order) => ({ ...statusEvent(order), correlationId: flowOf.get(order.id) }));
    return { orders, moved, enqueued: await enqueueEvents(trx, events) };
  });
  deps.relay.notify(enqueued);
  for (const order of moved) {
    const flow = flowOf.get(order.id);
    if (flow) runWithCorrelationId(flow, () => reportMove(deps, order));
    else reportMove(deps, order);
  }
  return deliveries.map(({ orderId }): DeliveryResult => {
    const order = orders.get(orderId);
    const refusal = !order
      ? orderNotFound(orderId)
      : order.status !== 'DELIVERED'
        ? invalidTransition(order, 'DELIVERED')
        : undefined;
    if (!refusal) return { orderId, ok: true };
    return {
      orderId,
      ok: false,
      status: refusal.status,
      error: { code: refusal.code, message: refusal.message },
    };
  });
}

/** Moves locked orders that may take the status, in one statement; returns them as they are now. */
async function applyMoves(
  trx: Trx,
  orders: readonly Order[],
  { status, reason }: StatusChange,
  at: Date,
): Promise<Order[]> {
  const cancellationReason = status === 'CANCELLED' ? reason : undefined;
  const changes = orders.map((o) => ({ id: o.id, ...(cancellationReason ? { cancellationReason } : {}) }));
  const count = await moveOrders(trx, changes, [...new Set(orders.map((o) => o.status))], status, at);
  if (count !== orders.length)
    throw new Error(`${count} of ${orders.length} locked orders moved to ${status}`);
  return orders.map((o) => ({
    ...o,
    status,
    updatedAt: at,
    cancellationReason: cancellationReason ?? o.cancellationReason,
  }));
}

function statusEvent(order: Order): NewEvent<'order.delivered' | 'order.cancelled'> {
  const { id: orderId, orderNumber, city } = order;
  if (order.status === 'CANCELLED') {
    const reason = order.cancellationReason ?? undefined;
    return { type: 'order.cancelled', key: orderId, data: { orderId, orderNumber, city, reason } };
  }
  const vehicleNumber = order.vehicleNumber ?? undefined;
  return { type: 'order.delivered', key: orderId, data: { orderId, orderNumber, city, vehicleNumber } };
}

function orderNotFound(id: number): AppError {
  return new AppError('order_not_found', `Order ${id} not found`, 404);
}

function invalidTransition(order: Order, to: OrderStatus): AppError {
  return new AppError(
    'invalid_transition',
    `Order ${order.orderNumber} is ${order.status}; it cannot become ${to}`,
    409,
  );
}

function reportMove(deps: OrdersDeps, order: Order): void {
  const { logger } = deps;
  const fields = { orderId: order.id, orderNumber: order.orderNumber, status: order.status };
  if (order.status === 'CANCELLED') {
    cancellationsCounter(deps).inc();
    logger.info({ ...fields, reason: order.cancellationReason }, `Order cancelled ${order.orderNumber}`);
  } else logger.info(fields, `Order ${order.orderNumber} is ${order.status}`);
}
