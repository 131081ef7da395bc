import {
  enqueueEvent,
  markEventProcessed,
  type Envelope,
  type Knex,
  type ServiceRuntime,
} from '@delivery/common';
import { readStockForUpdate, takeStock } from '../products/products-repository.js';
import { hasReservation, insertReservation, type ReservationLine } from './reservations-repository.js';

export type ReservationDeps = Pick<ServiceRuntime, 'db' | 'relay' | 'logger'>;
type OrderCreated = Envelope<'order.created'>;
type Decision =
  { status: 'RESERVED' | 'REJECTED'; reason?: string } | { status: 'duplicate' | 'already_decided' };

/**
 * order.created: take the stock of every item or of none, record the one decision for the order
 * and emit order.inventory.updated, all in one transaction. Out of stock is an answer, not an error.
 */
export async function reserveStock(deps: ReservationDeps, event: OrderCreated): Promise<void> {
  const { orderId, orderNumber } = event.data;
  const decision = await deps.db.transaction(async (trx): Promise<Decision> => {
    if (!(await markEventProcessed(trx, event))) return { status: 'duplicate' };
    // Another order.created for the same order (a new event id): the unique order_id is the final guard.
    if (await hasReservation(trx, orderId)) return { status: 'already_decided' };
    const lines = orderLines(event.data.items);
    const reason = await takeAllOrNothing(trx, lines);
    const status = reason ? 'REJECTED' : 'RESERVED';
    await insertReservation(trx, { orderId, orderNumber, status, reason, items: reason ? [] : lines });
    await enqueueEvent(trx, {
      type: 'order.inventory.updated',
      key: orderId,
      data: { orderId, orderNumber, status, ...(reason ? { reason } : {}) },
    });
    return { status, reason };
  });
  if (decision.status === 'RESERVED' || decision.status === 'REJECTED') deps.relay.notify();
  report(deps, event, decision);
}

/**
 * One line per product, in product id order: all reservations lock product rows in the same order,
 * so two of them never wait on each other's rows crosswise.
 */
function orderLines(items: { productId: number; quantity: number }[]): ReservationLine[] {
  const totals = new Map<number, number>();
  for (const item of items) totals.set(item.productId, (totals.get(item.productId) ?? 0) + item.quantity);
  return [...totals]
    .map(([productId, quantity]) => ({ productId, quantity }))
    .sort((a, b) => a.productId - b.productId);
}

class Shortage extends Error {}

/** Runs the decrements in a savepoint; the first shortage rolls all of them back and names itself. */
async function takeAllOrNothing(
  trx: Knex.Transaction,
  lines: ReservationLine[],
): Promise<string | undefined> {
  // One line is all or nothing by itself (one guarded UPDATE): no savepoint round trips needed.
  const [only] = lines;
  if (lines.length === 1 && only) {
    if (await takeStock(trx, only.productId, only.quantity)) return undefined;
    return shortage(await readStockForUpdate(trx, only.productId), only);
  }
  try {
    await trx.transaction(async (savepoint) => {
      for (const { productId, quantity } of lines) {
        if (await takeStock(savepoint, productId, quantity)) continue;
        throw new Shortage(shortage(await readStockForUpdate(savepoint, productId), { productId, quantity }));
      }
    });
    return undefined;
  } catch (err) {
    if (err instanceof Shortage) return err.message;
    throw err;
  }
}

function shortage(available: number | undefined, { productId, quantity }: ReservationLine): string {
  return available === undefined
    ? `Product ${productId} not found`
    : `Insufficient stock for product ${productId}: requested ${quantity}, available ${available}`;
}

function report({ logger }: ReservationDeps, event: OrderCreated, decision: Decision): void {
  const fields = { orderId: event.data.orderId, orderNumber: event.data.orderNumber, eventId: event.eventId };
  if (decision.status === 'RESERVED') logger.info(fields, `Stock reserved for order ${fields.orderNumber}`);
  else if (decision.status === 'REJECTED')
    logger.info(
      { ...fields, reason: decision.reason },
      `Stock refused for order ${fields.orderNumber}: ${decision.reason}`,
    );
  else
    logger.debug(
      { ...fields, outcome: decision.status },
      `order.created for ${fields.orderNumber} already handled; skipped`,
    );
}
