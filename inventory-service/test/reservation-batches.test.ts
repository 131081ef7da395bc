import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  allTopics,
  ensureTopics,
  isDuplicateKeyError,
  startWorker,
  topicName,
  type Envelope,
  type Worker,
} from '@delivery/common';
import { publish, readTopic, waitFor, type TestRuntime, type TopicReader } from '@delivery/common/testing';
import { insertProduct } from '../src/products/products-repository.js';
import { inventoryEventHandlers } from '../src/reservations/order-events-consumer.js';
import { reserveStock } from '../src/reservations/reserve-stock.js';
import { findReservationByOrderId, insertReservations } from '../src/reservations/reservations-repository.js';
import { orderCreatedBuilder, productsIn, createInventoryRuntime } from './support.js';

type OrderCreated = Envelope<'order.created'>;

describe('inventory-service consumer: a fetched batch of order.created is decided in one transaction', () => {
  let rt: TestRuntime;
  let worker: Worker | undefined;
  let dlq: TopicReader | undefined;
  const prefix = () => rt.config.KAFKA_TOPIC_PREFIX;
  const orderCreated = orderCreatedBuilder();
  const { stockOf } = productsIn(() => rt.db);
  const decided = (orderId: number) =>
    waitFor(() => findReservationByOrderId(rt.db, orderId), { what: `a reservation for order ${orderId}` });
  const answersTo = async (orderId: number) =>
    (await rt.db('outbox').where({ message_key: String(orderId) })).map(
      (r) => JSON.parse(r.payload as string) as Envelope<'order.inventory.updated'>,
    );
  const skipped = (eventId: string, outcome: string) =>
    rt.lines.some((l) => l.eventId === eventId && l.outcome === outcome && l.module === 'reservations');

  // Products and events of every case below, all in ONE fetched batch (one key, one partition,
  // published before the consumer starts), in this offset order.
  const [P1, P2, P3, UNKNOWN] = [1001, 1002, 1003, 999_999];
  const duplicated = orderCreated([[P2, 1]]);
  const twice = orderCreated([[P2, 2]]);
  const twiceAgain = { ...twice, eventId: randomUUID() };
  const first = orderCreated([[P1, 3]]);
  const short = orderCreated([
    [P2, 1],
    [P1, 3],
  ]);
  const exact = orderCreated([[P1, 2]]);
  const unknown = orderCreated([
    [P3, 1],
    [UNKNOWN, 1],
  ]);
  const afterUnknown = orderCreated([[P3, 1]]);
  const poison = orderCreated([[P2, 1]]);
  poison.data.items[0]!.quantity = 0;
  const afterPoison = orderCreated([[P2, 1]]);
  const batch = [
    duplicated,
    duplicated,
    twice,
    twiceAgain,
    first,
    short,
    exact,
    unknown,
    afterUnknown,
    poison,
    afterPoison,
  ];
  const valid = batch.filter((e) => e !== poison);

  before(async () => {
    rt = await createInventoryRuntime();
    for (const [id, stock] of [
      [P1, 5],
      [P2, 10],
      [P3, 1],
    ] as const)
      await insertProduct(rt.db, { id, name: 'Thing', stock });
    await rt.admin.connect();
    await ensureTopics(rt.admin, allTopics(prefix()), rt.config.KAFKA_PARTITIONS);
    await rt.producer.connect();
    await publish(rt.producer, prefix(), 'order.created', 'k', batch);
    dlq = await readTopic(rt.kafka, prefix(), `${topicName(prefix(), 'order.created')}.dlq`);
    worker = startWorker(rt, { handlers: inventoryEventHandlers(rt) });
    await worker.ready;
    await Promise.all(valid.map((e) => decided(e.data.orderId)));
  });
  after(async () => {
    await dlq?.stop();
    await worker?.stop();
    await rt?.close();
  });

  it('the batch was applied as one: no fallback to one event at a time, every reservation from one INSERT', async () => {
    assert.ok(
      !rt.lines.some((l) => String(l.msg).startsWith('batch handler failed')),
      'the batch handler did not fail',
    );
    const times = await rt.db('reservations').distinct('created_at');
    assert.equal(times.length, 1, 'all reservations were inserted by one statement');
  });

  it('an event id twice in the batch reserves once, answers once and logs the repeat as already decided', async () => {
    assert.equal((await decided(duplicated.data.orderId)).status, 'RESERVED');
    assert.equal((await answersTo(duplicated.data.orderId)).length, 1);
    assert.ok(skipped(duplicated.eventId, 'already_decided'));
  });

  it('two order.created of one order in the batch (new event id): the first decides, the second takes nothing', async () => {
    assert.deepEqual((await decided(twice.data.orderId)).items, [{ productId: P2, quantity: 2 }]);
    assert.equal((await answersTo(twice.data.orderId)).length, 1);
    assert.ok(skipped(twiceAgain.eventId, 'already_decided'));
  });

  it('orders are decided in event order: a rejection names the stock the earlier orders of the batch left', async () => {
    assert.equal((await decided(first.data.orderId)).status, 'RESERVED');
    const rejected = await decided(short.data.orderId);
    const reason = `Insufficient stock for product ${P1}: requested 3, available 2`;
    assert.deepEqual([rejected.status, rejected.reason, rejected.items], ['REJECTED', reason, []]);
    assert.deepEqual((await answersTo(short.data.orderId))[0]?.data, {
      orderId: short.data.orderId,
      orderNumber: short.data.orderNumber,
      status: 'REJECTED',
      reason,
    });
    assert.equal((await decided(exact.data.orderId)).status, 'RESERVED', 'the rejected order took nothing');
    const notFound = await decided(unknown.data.orderId);
    assert.deepEqual([notFound.status, notFound.reason], ['REJECTED', `Product ${UNKNOWN} not found`]);
    assert.equal((await decided(afterUnknown.data.orderId)).status, 'RESERVED', 'P3 was left for it');
  });

  it('stock is taken exactly once per reserved order and never below zero', async () => {
    // P1: 5 - 3 (first) - 2 (exact); P2: 10 - 1 (duplicated) - 2 (twice) - 1 (afterPoison); P3: 1 - 1.
    assert.deepEqual([await stockOf(P1), await stockOf(P2), await stockOf(P3)], [0, 6, 0]);
  });

  it('an invalid event in the batch goes alone to the DLQ; the events after it are decided', async () => {
    assert.equal((await decided(afterPoison.data.orderId)).status, 'RESERVED');
    await waitFor(() => dlq!.seen.length === 1, { what: 'one message in the DLQ' });
    assert.equal(dlq!.seen[0]?.headers['x-dlq-reason'], 'invalid_envelope');
    assert.equal((JSON.parse(dlq!.seen[0]!.value) as OrderCreated).eventId, poison.eventId);
    assert.equal(await findReservationByOrderId(rt.db, poison.data.orderId), undefined);
  });

  it("every answer and every log line carries its own event's correlation id", async () => {
    for (const event of valid) {
      for (const answer of await answersTo(event.data.orderId))
        assert.equal(answer.correlationId, event.correlationId, `answer to order ${event.data.orderId}`);
      const lines = rt.lines.filter((l) => l.eventId === event.eventId && l.module === 'reservations');
      assert.ok(lines.length > 0, `a log line for event ${event.eventId}`);
      for (const line of lines) assert.equal(line.correlationId, event.correlationId);
    }
  });

  it('the unique order_id stays the final guard: a second reservation of an order is refused', async () => {
    const again = { orderId: first.data.orderId, orderNumber: 'x', status: 'REJECTED' as const, items: [] };
    await assert.rejects(insertReservations(rt.db, [again]), isDuplicateKeyError);
  });

  it('concurrent batches over the same products neither deadlock nor oversell', async () => {
    const products = [2001, 2002, 2003, 2004];
    for (const id of products) await insertProduct(rt.db, { id, name: 'Thing', stock: 40 });
    // Each batch names the products in a different order; together they ask for more than there is.
    const batches = Array.from({ length: 6 }, (_, b) =>
      Array.from({ length: 10 }, (_, o) =>
        orderCreated(products.map((id, k) => [products[(k + b + o) % products.length]!, 1 + ((id + o) % 2)])),
      ),
    );
    await Promise.all(batches.map((events) => reserveStock(rt, events)));
    const orders = batches.flat().map((e) => e.data.orderId);
    const items = await rt
      .db('reservation_items')
      .join('reservations', 'reservations.id', 'reservation_items.reservation_id')
      .whereIn('reservations.order_id', orders)
      .select('product_id', 'quantity');
    assert.equal((await rt.db('reservations').whereIn('order_id', orders)).length, orders.length);
    for (const id of products) {
      const taken = items.filter((i) => i.product_id === id).reduce((sum, i) => sum + Number(i.quantity), 0);
      const left = (await stockOf(id))!;
      assert.ok(left >= 0);
      assert.equal(left + taken, 40, `product ${id}: what is left plus what was reserved is what there was`);
    }
    assert.ok(items.length > 0, 'some orders were reserved');
  });
});
