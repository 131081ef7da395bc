import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startWorker, type Envelope, type EventHandler, type EventType, type Worker } from '@delivery/common';
import { createTestDatabase, publish, waitFor, type TestRuntime } from '@delivery/common/testing';
import { inventoryEventHandlers } from '../src/reservations/order-events-consumer.js';
import { findReservationByOrderId } from '../src/reservations/reservations-repository.js';
import * as cancellationsMigration from '../../migrations/inventory/20261126000001_reservation_cancellations.js';
import {
  INVENTORY_MIGRATIONS,
  orderCancelledOf,
  orderCreatedBuilder,
  productsIn,
  createInventoryRuntime,
} from './support.js';

type OrderCreated = Envelope<'order.created'>;
type OrderCancelled = Envelope<'order.cancelled'>;
type Line = [productId: number, quantity: number];

describe('inventory-service consumer: order.cancelled gives back what the order reserved, once', () => {
  let rt: TestRuntime;
  let worker: Worker;
  let handlers: EventHandler[];
  const prefix = () => rt.config.KAFKA_TOPIC_PREFIX;

  before(async () => {
    rt = await createInventoryRuntime();
    handlers = inventoryEventHandlers(rt);
    worker = startWorker(rt, { handlers });
    await worker.ready;
  });
  after(async () => {
    await worker?.stop();
    await rt?.close();
  });

  const { product, stockOf } = productsIn(() => rt.db);
  const stocksOf = async (ids: number[]) => Promise.all(ids.map(stockOf));
  const orderCreated = orderCreatedBuilder();
  /** The handler the worker runs, called directly with one batch. */
  const handle = async <T extends EventType>(type: T, events: Envelope<T>[]) => {
    const handler = handlers.find((h) => h.type === type) as EventHandler<T> | undefined;
    assert.ok(handler?.handleBatch, `a batch handler for ${type}`);
    await handler.handleBatch(events);
  };
  const send = (type: EventType, events: (OrderCreated | OrderCancelled)[]) =>
    publish(rt.producer, prefix(), type, events[0]!.data.orderId, events);
  const logged = (eventId: string, outcome: string) =>
    waitFor(() => rt.lines.find((l) => l.eventId === eventId && l.outcome === outcome), {
      what: `event ${eventId} logged as ${outcome}`,
    });
  const answersTo = async (orderId: number) =>
    (await rt.db('outbox').where({ message_key: String(orderId) })).map(
      (r) => JSON.parse(r.payload as string) as Envelope<'order.inventory.updated'>,
    );
  const counted = async (name: string, labels: Record<string, string> = {}) => {
    const metric = rt.metrics.registry.getSingleMetric(name);
    assert.ok(metric, `metric ${name} is registered`);
    const { values } = await metric.get();
    return values
      .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
      .reduce((sum, v) => sum + v.value, 0);
  };

  it('over Kafka: a RESERVED order cancelled gets exactly its items back, logged under its correlation id and counted', async () => {
    const [rice, dhal] = [await product(10), await product(5)];
    const other = orderCreated([[rice, 2]]);
    const created = orderCreated([
      [dhal, 5],
      [rice, 3],
      [rice, 1],
    ]);
    await handle('order.created', [other, created]);
    assert.deepEqual(await stocksOf([rice, dhal]), [4, 0]);
    const [returnedBefore, unitsBefore] = [
      await counted('inventory_cancellations_total', { outcome: 'returned' }),
      await counted('inventory_stock_returned_units_total'),
    ];

    const cancel = orderCancelledOf(created);
    await send('order.cancelled', [cancel]);
    const line = await logged(cancel.eventId, 'returned');

    assert.deepEqual(await stocksOf([rice, dhal]), [8, 5], "only this order's items came back");
    assert.equal(line.msg, `Stock returned for order ${created.data.orderNumber}`);
    assert.equal(line.correlationId, created.correlationId);
    assert.deepEqual(line.items, [
      { productId: rice, quantity: 4 },
      { productId: dhal, quantity: 5 },
    ]);
    const reservation = await findReservationByOrderId(rt.db, created.data.orderId);
    assert.equal(reservation?.status, 'CANCELLED');
    assert.deepEqual(reservation.items, line.items, 'the items stay, as the record of what was returned');
    assert.equal((await findReservationByOrderId(rt.db, other.data.orderId))?.status, 'RESERVED');
    assert.equal((await answersTo(created.data.orderId)).length, 1, 'a cancel writes no answer');
    assert.equal(await counted('inventory_cancellations_total', { outcome: 'returned' }), returnedBefore + 1);
    assert.equal(await counted('inventory_stock_returned_units_total'), unitsBefore + 9);
  });

  it('over Kafka: the same order.cancelled delivered twice gives the stock back once', async () => {
    const id = await product(10);
    const created = orderCreated([[id, 4]]);
    await handle('order.created', [created]);
    const cancel = orderCancelledOf(created);
    await send('order.cancelled', [cancel, cancel]);
    await logged(cancel.eventId, 'already_cancelled');
    assert.equal(await stockOf(id), 10);
  });

  const repeats: [string, (cancel: OrderCancelled) => OrderCancelled[][]][] = [
    ['the same event in two batches', (c) => [[c], [c]]],
    ['a second cancel event of the order in a later batch', (c) => [[c], [{ ...c, eventId: randomUUID() }]]],
    [
      'the same event and a second cancel event in one batch',
      (c) => [[c, c, { ...c, eventId: randomUUID() }]],
    ],
  ];
  for (const [name, batches] of repeats) {
    it(`a cancel repeated (${name}) gives the stock back once`, async () => {
      const [a, b] = [await product(10), await product(10)];
      const created = orderCreated([
        [a, 3],
        [b, 2],
      ]);
      await handle('order.created', [created]);
      for (const batch of batches(orderCancelledOf(created))) await handle('order.cancelled', batch);
      assert.deepEqual(await stocksOf([a, b]), [10, 10]);
      assert.equal((await findReservationByOrderId(rt.db, created.data.orderId))?.status, 'CANCELLED');
    });
  }

  it('cancelling a REJECTED order gives back nothing, not even what it asked for, and the reservation stays REJECTED', async () => {
    const [plenty, scarce] = [await product(10), await product(2)];
    const created = orderCreated([
      [plenty, 3],
      [scarce, 5],
    ]);
    await handle('order.created', [created]);
    const cancel = orderCancelledOf(created);
    await handle('order.cancelled', [cancel]);
    assert.deepEqual(await stocksOf([plenty, scarce]), [10, 2]);
    const reservation = await findReservationByOrderId(rt.db, created.data.orderId);
    assert.deepEqual([reservation?.status, reservation?.items], ['REJECTED', []]);
    await logged(cancel.eventId, 'rejected');
  });

  it('a cancel that overtakes order.created: the later order.created reserves nothing and answers nothing', async () => {
    const id = await product(10);
    const created = orderCreated([[id, 4]]);
    const cancel = orderCancelledOf(created);
    await handle('order.cancelled', [cancel]);
    await handle('order.created', [created]);

    assert.equal(await stockOf(id), 10);
    const reservation = await findReservationByOrderId(rt.db, created.data.orderId);
    assert.deepEqual([reservation?.status, reservation?.items], ['CANCELLED', []]);
    assert.deepEqual(
      await answersTo(created.data.orderId),
      [],
      'no misleading RESERVED for a cancelled order',
    );
    await logged(cancel.eventId, 'before_reservation');
    await logged(created.eventId, 'cancelled');

    const again = { ...cancel, eventId: randomUUID() };
    await handle('order.cancelled', [again]);
    assert.equal(await stockOf(id), 10);
    await logged(again.eventId, 'already_cancelled');
  });

  it('over Kafka: an order.created that arrives after its cancel reserves nothing', async () => {
    const id = await product(10);
    const created = orderCreated([[id, 4]]);
    await handle('order.cancelled', [orderCancelledOf(created)]);
    await send('order.created', [created]);
    await logged(created.eventId, 'cancelled');
    assert.equal(await stockOf(id), 10);
    assert.deepEqual((await findReservationByOrderId(rt.db, created.data.orderId))?.items, []);
  });

  // Three random schedules. The handlers are called directly, with no consumer loop to retry them:
  // a deadlock, or a race the handlers do not absorb, fails Promise.all.
  for (let round = 1; round <= 3; round++) {
    it(`50 orders reserved in concurrent batches, half cancelled at random moments (some first): stock = initial − what the live orders hold (round ${round})`, async () => {
      // Less stock than the 50 orders ask for: some are REJECTED, depending on what cancels gave back.
      const products = [await product(30), await product(30), await product(30), await product(30)];
      const orders = Array.from({ length: 50 }, () =>
        orderCreated(
          shuffle(products)
            .slice(0, 1 + random(3))
            .map((id): Line => [id, 1 + random(3)]),
        ),
      );
      const cancelled = new Set(shuffle(orders).slice(0, 25));
      const [early, late] = [[...cancelled].slice(0, 5), [...cancelled].slice(5)];
      // Cancels that arrive before their order.created is handled.
      await handle('order.cancelled', early.map(orderCancelledOf));
      // Every order.created and every other cancel, in random batches started at random moments,
      // all side by side: a cancel races the reservation of its order and of the orders that share
      // its products.
      await Promise.all([
        ...chunks(shuffle(orders), 8).map(async (batch) => {
          await sleep(random(40));
          await handle('order.created', batch);
        }),
        ...chunks(shuffle(late), 4).map(async (batch) => {
          await sleep(20 + random(80));
          await handle('order.cancelled', batch.map(orderCancelledOf));
        }),
      ]);

      const reservations = await Promise.all(
        orders.map(async (o) => (await findReservationByOrderId(rt.db, o.data.orderId))!),
      );
      const held = new Map<number, number>();
      for (const [i, order] of orders.entries()) {
        const { status, items } = reservations[i]!;
        if (cancelled.has(order)) {
          assert.ok(['CANCELLED', 'REJECTED'].includes(status), `cancelled order ${i + 1} holds no stock`);
          continue;
        }
        assert.ok(['RESERVED', 'REJECTED'].includes(status), `live order ${i + 1} is decided`);
        if (status !== 'RESERVED') continue;
        for (const { productId, quantity } of order.data.items)
          held.set(productId, (held.get(productId) ?? 0) + quantity);
        assert.ok(items.length > 0);
      }
      for (const order of early) {
        const reservation = reservations[orders.indexOf(order)]!;
        assert.deepEqual(
          [reservation.status, reservation.items],
          ['CANCELLED', []],
          'a tombstone, never reserved',
        );
      }
      assert.deepEqual(
        await stocksOf(products),
        products.map((id) => 30 - (held.get(id) ?? 0)),
      );
      assert.ok(held.size > 0, 'some live orders hold stock');
    });
  }

  it("the migration's down keeps a cancelled order decided and holding nothing (as REJECTED); up brings CANCELLED back", async () => {
    const scratch = await createTestDatabase('inventory', INVENTORY_MIGRATIONS);
    try {
      await scratch.db('reservations').insert({ order_id: 1, order_number: 'ORD-1', status: 'CANCELLED' });
      await cancellationsMigration.down(scratch.db);
      const row = await scratch.db('reservations').where({ order_id: 1 }).first();
      assert.deepEqual(
        [row.status, row.reason, 'cancelled_at' in row],
        ['REJECTED', 'Order cancelled', false],
      );
      await cancellationsMigration.up(scratch.db);
      await scratch.db('reservations').where({ order_id: 1 }).update({ status: 'CANCELLED' });
      assert.equal((await scratch.db('reservations').first()).status, 'CANCELLED');
    } finally {
      await scratch.drop();
    }
  });
});

function random(n: number): number {
  return Math.floor(Math.random() * n);
}

function shuffle<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = random(i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** Consecutive batches of 1 to `max` items. */
function chunks<T>(items: T[], max: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length;) {
    const size = 1 + random(max);
    out.push(items.slice(i, i + size));
    i += size;
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
