import {
  enqueueEvents,
  runWithCorrelationId,
  type Enqueued,
  type Envelope,
  type Trx,
  type NewEvent,
  type ServiceRuntime,
} from '@delivery/common';
import { lockStocks, takeStocks } from '../products/products-repository.js';
import { retryLostRace } from './lost-race-retry.js';
import {
  findDecisions,
  insertReservations,
  type NewReservation,
  type ReservationLine,
} from './reservations-repository.js';

export type ReservationDeps = Pick<ServiceRuntime, 'db' | 'relay' | 'logger'>;
type OrderCreated = Envelope<'order.created'>;
type Decision =
  | { status: 'RESERVED'; items: ReservationLine[] }
  | { status: 'REJECTED'; reason: string }
  | { status: Skipped };
/** Why an event takes nothing: its order decided before (this event delivered again, or another), or cancelled first. */
type Skipped = 'already_decided' | 'cancelled';

/**
 * order.created, a batch at a time: for each order take the stock of every item or of none,
 * record the one decision per order and emit order.inventory.updated, the whole batch in one
 * transaction of at most 8 statements however many orders it holds (6 when none is reserved, 3
 * when every order was decided before). Orders are decided in event order, so a later one sees the
 * stock an earlier one left. Out of stock is an answer, not an error; any error rolls the whole
 * batch back, and the consumer loop then hands its events over one at a time (but a race lost on
 * an order's one reservation runs the batch again: retryLostRace).
 * The reservation, one per order, is what makes a redelivered event take nothing (no
 * processed-event row): it finds its order decided. Two deliveries at once both find it undecided;
 * the second waits on what the first locked or inserted (the product rows, the order's
 * reservation), then the unique order_id refuses its reservation: its batch runs again and finds
 * the order decided.
 * An order cancelled before its order.created (see returnStock) is not reserved and not answered:
 * order-service ignores answers for a CANCELLED order, and a RESERVED would only mislead.
 */
export async function reserveStock(deps: ReservationDeps, events: OrderCreated[]): Promise<void> {
  const { decisions, enqueued } = await retryLostRace(deps.logger, events, () =>
    deps.db.transaction(async (trx) => {
      const decisions = await decide(trx, events);
      return { decisions, enqueued: await persist(trx, events, decisions) };
    }),
  );
  if (enqueued.messages.length > 0) deps.relay.notify(enqueued);
  // The loop sets no correlation id for a batch: each line carries its own event's.
  events.forEach((event, i) =>
    runWithCorrelationId(event.correlationId, () => report(deps, event, decisions[i]!)),
  );
}

/**
 * One decision per event, in event order: an order decided before (or earlier in the batch) takes
 * nothing, cancelled when its cancel came first; every other order takes all its lines from the
 * locked stock or none of them.
 */
async function decide(trx: Trx, events: OrderCreated[]): Promise<Decision[]> {
  const earlier = await findDecisions(trx, [...new Set(events.map((e) => e.data.orderId))]);
  const decidedNow = new Set<number>();
  const lines = events.map((event) => {
    const { orderId } = event.data;
    if (earlier.has(orderId) || decidedNow.has(orderId)) return undefined;
    decidedNow.add(orderId);
    return orderLines(event.data.items);
  });
  const stock = await lockStocks(trx, [...new Set(lines.flatMap((l) => l ?? []).map((l) => l.productId))]);
  return events.map((event, i): Decision => {
    const items = lines[i];
    if (!items)
      return { status: earlier.get(event.data.orderId) === 'CANCELLED' ? 'cancelled' : 'already_decided' };
    const reason = takeAllOrNothing(stock, items);
    return reason ? { status: 'REJECTED', reason } : { status: 'RESERVED', items };
  });
}

/** Writes what the batch decided: stock, reservations with their items, answers; one statement each. */
async function persist(
  trx: Trx,
  events: OrderCreated[],
  decisions: Decision[],
): Promise<Enqueued<'order.inventory.updated'>> {
  const taken = new Map<number, number>();
  const reservations: NewReservation[] = [];
  const answers: NewEvent<'order.inventory.updated'>[] = [];
  for (const [i, decision] of decisions.entries()) {
    if (decision.status !== 'RESERVED' && decision.status !== 'REJECTED') continue;
    const { status } = decision;
    const { data, correlationId } = events[i]!;
    const { orderId, orderNumber } = data;
    const reason = status === 'REJECTED' ? decision.reason : undefined;
    const items = status === 'RESERVED' ? decision.items : [];
    for (const { productId, quantity } of items) taken.set(productId, (taken.get(productId) ?? 0) + quantity);
    reservations.push({ orderId, orderNumber, status, reason, items });
    answers.push({
      type: 'order.inventory.updated',
      key: orderId,
      correlationId,
      data: { orderId, orderNumber, status, ...(reason ? { reason } : {}) },
    });
  }
  // Checked against rows locked since: a refused guard is a bug, not a shortage, so roll back.
  if (!(await takeStocks(trx, taken))) throw new Error('stock changed under its row lock; batch rolled back');
  await insertReservations(trx, reservations);
  return enqueueEvents(trx, answers);
}

/**
 * One line per product, in product id order: the first product that fails is the one the
 * rejection names, whatever order the items came in.
 */
function orderLines(items: { productId: number; quantity: number }[]): ReservationLine[] {
  const totals = new Map<number, number>();
  for (const item of items) totals.set(item.productId, (totals.get(item.productId) ?? 0) + item.quantity);
  return [...totals]
    .map(([productId, quantity]) => ({ productId, quantity }))
    .sort((a, b) => a.productId - b.productId);
}

/** Takes every line from the in-memory stock, or none and names the first shortage. */
function takeAllOrNothing(stock: Map<number, number>, lines: ReservationLine[]): string | undefined {
  for (const line of lines) {
    const available = stock.get(line.productId);
    if (available === undefined || available < line.quantity) return shortage(available, line);
  }
  for (const { productId, quantity } of lines) stock.set(productId, stock.get(productId)! - quantity);
  return undefined;
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
  else if (decision.status === 'cancelled')
    logger.info(
      { ...fields, outcome: decision.status },
      `Order ${fields.orderNumber} is cancelled; nothing reserved`,
    );
  else
    logger.debug(
      { ...fields, outcome: decision.status },
      `order.created for ${fields.orderNumber} already handled; skipped`,
    );
}
