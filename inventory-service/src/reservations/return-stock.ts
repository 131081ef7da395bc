import { runWithCorrelationId, type Envelope, type Trx, type ServiceRuntime } from '@delivery/common';
import { giveBackStocks, lockStocks } from '../products/products-repository.js';
import type { CancellationMetrics, CancellationOutcome } from './cancellation-metrics.js';
import { retryLostRace } from './lost-race-retry.js';
import {
  findReservations,
  insertCancellations,
  lockReservations,
  markCancelled,
  type ReservationLine,
} from './reservations-repository.js';

export interface ReturnStockDeps extends Pick<ServiceRuntime, 'db' | 'logger'> {
  metrics: CancellationMetrics;
}
type OrderCancelled = Envelope<'order.cancelled'>;
type Outcome =
  { outcome: 'returned'; items: ReservationLine[] } | { outcome: Exclude<CancellationOutcome, 'returned'> };

/**
 * order.cancelled, a batch at a time, in one transaction: each cancelled order gives back what
 * its reservation took, once. A REJECTED order has nothing to give back; an order not reserved
 * yet (the cancel overtook order.created, another topic) gets a CANCELLED reservation without
 * items, so its order.created reserves nothing. The stock comes back in the transaction that
 * marks the reservation CANCELLED. Nothing is published: order-service already knows.
 * The reservation's cancelled_at is what makes a cancel delivered again give nothing back (no
 * processed-event row); see decide for two deliveries at once.
 */
export async function returnStock(deps: ReturnStockDeps, events: OrderCancelled[]): Promise<void> {
  const outcomes = await retryLostRace(deps.logger, events, () =>
    deps.db.transaction((trx) => cancelReservations(trx, events)),
  );
  events.forEach((event, i) =>
    runWithCorrelationId(event.correlationId, () => report(deps, event, outcomes[i]!)),
  );
}

/** One outcome per event, in event order, then what they change; the two functions below. */
async function cancelReservations(trx: Trx, events: OrderCancelled[]): Promise<Outcome[]> {
  const outcomes = await decide(trx, events);
  await persist(trx, events, outcomes);
  return outcomes;
}

/**
 * A cancel of an order whose cancel was applied (cancelled_at, read under the reservation's row
 * lock), or earlier in the batch, is already cancelled: this event delivered again, or another.
 * Otherwise the order's reservation decides. Locks as a reservation batch does, products first (in
 * id order) and the reservations after, so the two never wait on each other crosswise. The
 * products to lock come from a plain read of the reservations: their items never change, and a
 * reservation that appears after that read makes the cancel's own row a duplicate key, and the
 * batch runs again (retryLostRace). So of two deliveries at once, the second waits on those locks
 * and then reads the cancel applied, or, the order having no reservation, its row is refused.
 */
async function decide(trx: Trx, events: OrderCancelled[]): Promise<Outcome[]> {
  const found = await findReservations(trx, [...new Set(events.map((e) => e.data.orderId))]);
  const held = [...found.values()].filter((r) => r.status === 'RESERVED');
  await lockStocks(trx, [...new Set(held.flatMap((r) => r.items.map((i) => i.productId)))]);
  // The latest status under the row lock: another cancel may have been applied since the read.
  const current = await lockReservations(trx, [...found.keys()]);
  const seen = new Set<number>();
  return events.map((event): Outcome => {
    const { orderId } = event.data;
    if (seen.has(orderId)) return { outcome: 'already_cancelled' };
    seen.add(orderId);
    const reservation = current.get(orderId);
    if (!reservation) return { outcome: 'before_reservation' };
    if (reservation.cancelled) return { outcome: 'already_cancelled' };
    if (reservation.status === 'REJECTED') return { outcome: 'rejected' };
    return { outcome: 'returned', items: found.get(orderId)!.items };
  });
}

/** Cancellation rows, reservations marked, stock given back: one statement each. */
async function persist(trx: Trx, events: OrderCancelled[], outcomes: Outcome[]): Promise<void> {
  const returned = new Map<number, number>();
  const toMark: number[] = [];
  const toRecord: { orderId: number; orderNumber: string }[] = [];
  for (const [i, result] of outcomes.entries()) {
    const { orderId, orderNumber } = events[i]!.data;
    if (result.outcome === 'before_reservation') toRecord.push({ orderId, orderNumber });
    if (result.outcome === 'returned' || result.outcome === 'rejected') toMark.push(orderId);
    if (result.outcome !== 'returned') continue;
    for (const { productId, quantity } of result.items)
      returned.set(productId, (returned.get(productId) ?? 0) + quantity);
  }
  await insertCancellations(trx, toRecord);
  await markCancelled(trx, toMark);
  await giveBackStocks(trx, returned);
}

function report({ logger, metrics }: ReturnStockDeps, event: OrderCancelled, result: Outcome): void {
  const { orderId, orderNumber, reason } = event.data;
  const fields = {
    orderId,
    orderNumber,
    eventId: event.eventId,
    outcome: result.outcome,
    cancelReason: reason,
  };
  metrics.cancellations.inc({ outcome: result.outcome });
  switch (result.outcome) {
    case 'returned':
      metrics.unitsReturned.inc(result.items.reduce((sum, i) => sum + i.quantity, 0));
      logger.info({ ...fields, items: result.items }, `Stock returned for order ${orderNumber}`);
      break;
    case 'rejected':
      logger.info(fields, `Nothing to return for order ${orderNumber}: its reservation was rejected`);
      break;
    case 'before_reservation':
      logger.info(fields, `Order ${orderNumber} cancelled before its reservation; nothing will be reserved`);
      break;
    default:
      logger.debug(fields, `order.cancelled for ${orderNumber} already applied; skipped`);
  }
}
