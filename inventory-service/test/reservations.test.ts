import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { envelopeSchema, startWorker, topicName, type OrderPlacedData, type Worker } from '@delivery/common';
import { envelope, publish, readTopic, waitFor, type TestRuntime } from '@delivery/common/testing';
import { inventoryEventHandlers } from '../src/reservations/order-events-consumer.js';
import { findReservationByOrderId } from '../src/reservations/reservations-repository.js';
import { productsIn, createInventoryRuntime } from './support.js';

describe('inventory-service consumer: order.created reserves all items or none', () => {
  let rt: TestRuntime;
  let worker: Worker;
  let nextOrderId = 1;
  const prefix = () => rt.config.KAFKA_TOPIC_PREFIX;

  before(async () => {
    rt = await createInventoryRuntime();
    worker = startWorker(rt, { handlers: inventoryEventHandlers(rt) });
    await worker.ready;
  });
  after(async () => {
    await worker?.stop();
    await rt?.close();
  });

  const { product, stockOf } = productsIn(() => rt.db);
  const orderCreated = (items: { productId: number; quantity: number }[]) => {
    const orderId = nextOrderId++;
    const data: OrderPlacedData = {
      orderId,
      orderNumber: `ORD-${String(orderId).padStart(6, '0')}`,
      customerId: 1,
      city: 'Colombo',
      items: items.map((i) => ({ ...i, price: '1.00' })),
      totalAmount: '1.00',
    };
    return envelope('order.created', data);
  };
  const send = (...events: (ReturnType<typeof orderCreated> | string | object)[]) =>
    publish(rt.producer, prefix(), 'order.created', 'k', events);
  const decided = (orderId: number) =>
    waitFor(() => findReservationByOrderId(rt.db, orderId), { what: `a reservation for order ${orderId}` });
  const handled = (eventId: string) =>
    waitFor(() => rt.lines.some((l) => l.eventId === eventId && l.module === 'reservations'), {
      what: `event ${eventId} handled`,
    });
  const outboxOf = async (orderId: number) =>
    (await rt.db('outbox').where({ message_key: String(orderId) })).map((r) =>
      JSON.parse(r.payload as string),
    );

  it('when every item is in stock, the order is RESERVED, the stock taken, and RESERVED published with the flow correlation id', async () => {
    const [rice, dhal] = [await product(10), await product(5)];
    const event = orderCreated([
      { productId: dhal, quantity: 5 },
      { productId: rice, quantity: 3 },
    ]);
    const reader = await readTopic(rt.kafka, prefix(), topicName(prefix(), 'order.inventory.updated'));
    try {
      await send(event);
      const reservation = await decided(event.data.orderId);
      assert.equal(reservation.status, 'RESERVED');
      assert.deepEqual(reservation.items, [
        { productId: rice, quantity: 3 },
        { productId: dhal, quantity: 5 },
      ]);
      assert.deepEqual([await stockOf(rice), await stockOf(dhal)], [7, 0]);
      const message = await waitFor(() => reader.seen.find((m) => m.key === String(event.data.orderId)), {
        what: 'the answer on the topic',
      });
      const answer = envelopeSchema('order.inventory.updated').parse(JSON.parse(message.value));
      assert.deepEqual(answer.data, {
        orderId: event.data.orderId,
        orderNumber: event.data.orderNumber,
        status: 'RESERVED',
      });
      assert.equal(answer.correlationId, event.correlationId);
    } finally {
      await reader.stop();
    }
  });

  it('when one product is short, the order is REJECTED naming it and no product loses stock', async () => {
    const [plenty, scarce] = [await product(10), await product(2)];
    const event = orderCreated([
      { productId: plenty, quantity: 3 },
      { productId: scarce, quantity: 5 },
    ]);
    await send(event);
    const reservation = await decided(event.data.orderId);
    const reason = `Insufficient stock for product ${scarce}: requested 5, available 2`;
    assert.deepEqual([reservation.status, reservation.reason, reservation.items], ['REJECTED', reason, []]);
    assert.deepEqual(
      [await stockOf(plenty), await stockOf(scarce)],
      [10, 2],
      'the decrement of the first product was rolled back',
    );
    const [answer] = await outboxOf(event.data.orderId);
    assert.deepEqual(answer.data, {
      orderId: event.data.orderId,
      orderNumber: event.data.orderNumber,
      status: 'REJECTED',
      reason,
    });
  });

  it('an unknown product REJECTS the order with "Product N not found" and leaves the other stock alone', async () => {
    const known = await product(4);
    const event = orderCreated([
      { productId: known, quantity: 1 },
      { productId: 999_999, quantity: 1 },
    ]);
    await send(event);
    const reservation = await decided(event.data.orderId);
    assert.deepEqual([reservation.status, reservation.reason], ['REJECTED', 'Product 999999 not found']);
    assert.equal(await stockOf(known), 4);
  });

  it('lines of the same product are summed before checking: 2 + 2 against a stock of 3 is REJECTED as requested 4', async () => {
    const id = await product(3);
    const event = orderCreated([
      { productId: id, quantity: 2 },
      { productId: id, quantity: 2 },
    ]);
    await send(event);
    const reservation = await decided(event.data.orderId);
    assert.equal(reservation.reason, `Insufficient stock for product ${id}: requested 4, available 3`);
    assert.equal(await stockOf(id), 3);
  });

  it('the same order.created delivered twice reserves once and answers once', async () => {
    const id = await product(10);
    const event = orderCreated([{ productId: id, quantity: 4 }]);
    await send(event, event);
    await waitFor(
      () => rt.lines.some((l) => l.eventId === event.eventId && l.outcome === 'already_decided'),
      {
        what: 'the repeat skipped',
      },
    );
    assert.equal(await stockOf(id), 6);
    assert.equal((await rt.db('reservations').where({ order_id: event.data.orderId })).length, 1);
    assert.equal((await outboxOf(event.data.orderId)).length, 1);
  });

  it('a second order.created for an order already decided (a new event id) takes nothing', async () => {
    const id = await product(10);
    const first = orderCreated([{ productId: id, quantity: 4 }]);
    const again = { ...first, eventId: randomUUID() };
    await send(first, again);
    await waitFor(
      () => rt.lines.some((l) => l.eventId === again.eventId && l.outcome === 'already_decided'),
      { what: 'the repeat skipped' },
    );
    assert.equal(await stockOf(id), 6);
    assert.equal((await outboxOf(first.data.orderId)).length, 1);
  });

  it('an order that takes the exact stock is RESERVED and leaves 0; the next one is REJECTED with available 0', async () => {
    const id = await product(3);
    const exact = orderCreated([{ productId: id, quantity: 3 }]);
    const one = orderCreated([{ productId: id, quantity: 1 }]);
    await send(exact, one);
    assert.equal((await decided(exact.data.orderId)).status, 'RESERVED');
    assert.equal(
      (await decided(one.data.orderId)).reason,
      `Insufficient stock for product ${id}: requested 1, available 0`,
    );
    assert.equal(await stockOf(id), 0);
  });

  it('invalid messages go to the DLQ, and the next valid one is still reserved', async () => {
    const id = await product(2);
    const topic = topicName(prefix(), 'order.created');
    const dlq = await readTopic(rt.kafka, prefix(), `${topic}.dlq`);
    try {
      const noItems = {
        ...orderCreated([{ productId: id, quantity: 1 }]),
        data: { orderId: 1, orderNumber: 'x' },
      };
      const longNumber = orderCreated([{ productId: id, quantity: 1 }]);
      longNumber.data.orderNumber = 'N'.repeat(65);
      const good = orderCreated([{ productId: id, quantity: 2 }]);
      await send('not json', noItems, longNumber, good);
      await handled(good.eventId);
      assert.equal((await decided(good.data.orderId)).status, 'RESERVED');
      await waitFor(() => dlq.seen.length === 3, { what: 'three messages in the DLQ' });
      assert.deepEqual(
        dlq.seen.map((m) => m.headers['x-dlq-reason']),
        ['invalid_json', 'invalid_envelope', 'invalid_envelope'],
      );
      assert.equal(await findReservationByOrderId(rt.db, longNumber.data.orderId), undefined);
      assert.equal(dlq.seen[0]?.value, 'not json');
    } finally {
      await dlq.stop();
    }
  });
});
