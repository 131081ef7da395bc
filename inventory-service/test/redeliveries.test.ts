import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Db, Envelope, EventHandler, EventType } from '@delivery/common';
import { waitFor, type TestRuntime } from '@delivery/common/testing';
import { inventoryEventHandlers } from '../src/reservations/order-events-consumer.js';
import { findReservationByOrderId } from '../src/reservations/reservations-repository.js';
import { orderCancelledOf, orderCreatedBuilder, productsIn, createInventoryRuntime } from './support.js';

type Consumed = 'order.created' | 'order.cancelled';
type Event = Envelope<Consumed>;

/** What an order's events left: its product's stock, its reservation, its answers in the outbox. */
interface OrderState {
  stock: number | undefined;
  reservation: {
    status: string;
    reason: string | null;
    cancelled: boolean;
    items: [productId: number, quantity: number][];
  };
  answers: string[];
}

const UNKNOWN = 999_999;

/**
 * Each case: an order of one product (`stock` of it), what was handled for the order before, the
 * event under test, and the state one delivery of it leaves. A function of the product's id.
 */
const cases: {
  name: string;
  stock: number;
  line: (product: number) => [productId: number, quantity: number];
  earlier: Consumed[];
  event: Consumed;
  once: (product: number) => OrderState;
}[] = [
  {
    name: 'order.created, in stock',
    stock: 10,
    line: (p) => [p, 4],
    earlier: [],
    event: 'order.created',
    once: (p) => state(6, 'RESERVED', null, false, [[p, 4]], ['RESERVED']),
  },
  {
    name: 'order.created, short',
    stock: 10,
    line: (p) => [p, 12],
    earlier: [],
    event: 'order.created',
    once: (p) =>
      state(
        10,
        'REJECTED',
        `Insufficient stock for product ${p}: requested 12, available 10`,
        false,
        [],
        ['REJECTED'],
      ),
  },
  {
    name: 'order.created of an unknown product (no product row to lock)',
    stock: 10,
    line: () => [UNKNOWN, 1],
    earlier: [],
    event: 'order.created',
    once: () => state(10, 'REJECTED', `Product ${UNKNOWN} not found`, false, [], ['REJECTED']),
  },
  {
    name: 'order.created after its cancel',
    stock: 10,
    line: (p) => [p, 4],
    earlier: ['order.cancelled'],
    event: 'order.created',
    once: () => state(10, 'CANCELLED', null, true, [], []),
  },
  {
    name: 'order.cancelled of a RESERVED order',
    stock: 10,
    line: (p) => [p, 4],
    earlier: ['order.created'],
    event: 'order.cancelled',
    once: (p) => state(10, 'CANCELLED', null, true, [[p, 4]], ['RESERVED']),
  },
  {
    name: 'order.cancelled of a REJECTED order',
    stock: 10,
    line: (p) => [p, 12],
    earlier: ['order.created'],
    event: 'order.cancelled',
    once: (p) =>
      state(
        10,
        'REJECTED',
        `Insufficient stock for product ${p}: requested 12, available 10`,
        true,
        [],
        ['REJECTED'],
      ),
  },
  {
    name: 'order.cancelled before order.created',
    stock: 10,
    line: (p) => [p, 4],
    earlier: [],
    event: 'order.cancelled',
    once: () => state(10, 'CANCELLED', null, true, [], []),
  },
];

/** How the event arrives: batches one after the other, or two batches at once. */
const deliveries: { name: string; batches: (e: Event) => Event[][]; atOnce?: true }[] = [
  { name: 'once', batches: (e) => [[e]] },
  { name: 'twice, one batch after the other', batches: (e) => [[e], [copy(e)]] },
  { name: 'twice in one batch', batches: (e) => [[e, copy(e)]] },
  { name: 'twice at once, in two transactions', batches: (e) => [[e], [copy(e)]], atOnce: true },
];

describe('inventory-service consumer: an event delivered again changes nothing one delivery did not', () => {
  let rt: TestRuntime;
  let handlers: EventHandler[];
  const { product, stockOf } = productsIn(() => rt.db);
  const orderCreated = orderCreatedBuilder();

  before(async () => {
    rt = await createInventoryRuntime();
    handlers = inventoryEventHandlers(rt);
  });
  after(async () => {
    await rt?.close();
  });

  /** The handler the consumer loop runs, called directly with one batch. */
  const handle = async (events: Event[]) => {
    const handler = handlers.find((h) => h.type === events[0]!.type) as EventHandler<EventType> | undefined;
    assert.ok(handler?.handleBatch, `a batch handler for ${events[0]!.type}`);
    await handler.handleBatch(events);
  };

  async function stateOf(orderId: number, productId: number): Promise<OrderState> {
    const reservation = await findReservationByOrderId(rt.db, orderId);
    assert.ok(reservation, `order ${orderId} has a reservation`);
    const row = (await rt.db('reservations').where({ order_id: orderId }).first()) as {
      cancelled_at: Date | null;
    };
    const answers = await rt.db('outbox').where({ message_key: String(orderId) });
    return {
      stock: await stockOf(productId),
      reservation: {
        status: reservation.status,
        reason: reservation.reason,
        cancelled: row.cancelled_at !== null,
        items: reservation.items.map((i) => [i.productId, i.quantity]),
      },
      answers: answers.map(
        (r) => (JSON.parse(r.payload as string) as Envelope<'order.inventory.updated'>).data.status,
      ),
    };
  }

  for (const c of cases)
    for (const delivery of deliveries)
      it(`${c.name}, delivered ${delivery.name}: stock, reservation and outbox as after one delivery`, async () => {
        const p = await product(c.stock);
        const created = orderCreated([c.line(p)]);
        const of = (type: Consumed): Event =>
          type === 'order.created' ? created : orderCancelledOf(created);
        for (const type of c.earlier) await handle([of(type)]);
        const event = of(c.event);

        const batches = delivery.batches(event);
        if (delivery.atOnce)
          await atOnce(
            rt.db,
            p,
            created.data.orderId,
            batches.map((b) => () => handle(b)),
          );
        else for (const batch of batches) await handle(batch);

        assert.deepEqual(await stateOf(created.data.orderId, p), c.once(p));
      });
});

/** The same event as another message: the consumer loop parses each one into an object of its own. */
function copy(event: Event): Event {
  return structuredClone(event);
}

function state(
  stock: number,
  status: string,
  reason: string | null,
  cancelled: boolean,
  items: [number, number][],
  answers: string[],
): OrderState {
  return { stock, reservation: { status, reason, cancelled, items }, answers };
}

/**
 * Runs the calls side by side, each held before its first lock on the order until every one
 * waits there (or is done): all of them read the order's state before any commits. The gate is a
 * transaction holding the product's row and the order's reservation row, or the gap where it would
 * go (REPEATABLE READ for that gap lock; the services read committed).
 */
async function atOnce(db: Db, productId: number, orderId: number, calls: (() => Promise<void>)[]) {
  let done = 0;
  let all: Promise<PromiseSettledResult<void>[]> | undefined;
  await db.transaction(
    async (gate) => {
      await gate.raw('SELECT id FROM products WHERE id = ? FOR UPDATE', [productId]);
      await gate.raw('SELECT id FROM reservations WHERE order_id = ? FOR UPDATE', [orderId]);
      all = Promise.allSettled(calls.map((call) => call().finally(() => done++)));
      await waitFor(async () => (await lockWaits(db)) + done >= calls.length, {
        timeoutMs: 3_000,
        what: 'every call waiting at the gate or done',
      });
    },
    { isolationLevel: 'repeatable read' },
  );
  for (const result of await all!) if (result.status === 'rejected') throw result.reason;
}

/**
 * Statements of this database stuck for 100 ms: waiting for a lock (one of the handlers' takes well
 * under a millisecond). PROCESSLIST, not INNODB_TRX: InnoDB refreshes that table's cache only when
 * nobody read it for 100 ms, so a poll keeps reading the first snapshot.
 */
async function lockWaits(db: Db): Promise<number> {
  const [rows] = (await db.raw(
    `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST
     WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND COMMAND = 'Query' AND TIME_MS > 100`,
  )) as [{ n: number }[]];
  return Number(rows[0]!.n);
}
