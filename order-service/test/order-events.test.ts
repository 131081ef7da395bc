import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, topicName, type Worker } from '@delivery/common';
import {
  call,
  envelope,
  listen,
  publish,
  readTopic,
  waitFor,
  type TestRuntime,
} from '@delivery/common/testing';
import { createApp } from '../src/app.js';
import { orderEventHandlers } from '../src/orders/order-events-consumer.js';
import {
  createOrderRuntime,
  dispatched,
  inventoryUpdated,
  type OrderJson,
  placeOrder as placeFixtureOrder,
} from './support.js';

describe('order-service consumer: order.inventory.updated and order.dispatched', () => {
  let rt: TestRuntime;
  let worker: Worker;
  let server: Awaited<ReturnType<typeof listen>>;
  const prefix = () => rt.config.KAFKA_TOPIC_PREFIX;

  before(async () => {
    rt = await createOrderRuntime();
    worker = startWorker(rt, { handlers: orderEventHandlers(rt) });
    await worker.ready;
    server = await listen(createApp(rt));
  });
  after(async () => {
    await server?.close();
    await worker?.stop();
    await rt?.close();
  });

  const placeOrder = () => placeFixtureOrder(server.url);
  const getOrder = async (id: number) => (await call<OrderJson>('GET', `${server.url}/orders/${id}`)).body;
  const confirmedRows = (order: OrderJson) =>
    rt.db('outbox').where({ topic: 'order.confirmed', message_key: String(order.id) });
  /** The handler logs every event it applied or skipped with its id: the signal that it was consumed. */
  const handled = (eventId: string) =>
    waitFor(() => rt.lines.some((l) => l.eventId === eventId && l.module === 'order-events'), {
      what: `event ${eventId} handled`,
    });

  it('RESERVED confirms the order, writes order.confirmed once and logs "Order confirmed ORD-…"; the same event twice confirms once', async () => {
    const order = await placeOrder();
    const reserved = inventoryUpdated(order, 'RESERVED');
    await publish(rt.producer, prefix(), 'order.inventory.updated', order.id, [reserved, reserved]);
    await waitFor(
      () =>
        rt.lines.some(
          (l) =>
            l.eventId === reserved.eventId &&
            l.msg === 'order.inventory.updated RESERVED ignored: order is CONFIRMED',
        ),
      {
        what: 'the duplicate skipped',
      },
    );

    assert.equal((await getOrder(order.id)).status, 'CONFIRMED');
    const rows = await confirmedRows(order);
    assert.equal(rows.length, 1, 'one order.confirmed in the outbox');
    const event = JSON.parse(rows[0].payload as string);
    assert.equal(event.correlationId, reserved.correlationId, 'the flow keeps its correlation id');
    assert.deepEqual(event.data, {
      orderId: order.id,
      orderNumber: order.orderNumber,
      customerId: 7,
      city: 'Galle',
      items: [{ productId: 5, price: '12.50', quantity: 2 }],
      totalAmount: '25.00',
    });
    const logged = rt.lines.filter((l) => l.msg === `Order confirmed ${order.orderNumber}`);
    assert.equal(logged.length, 1);
    assert.equal(logged[0]?.orderId, order.id);
    assert.equal(logged[0]?.orderNumber, order.orderNumber);
    assert.equal(logged[0]?.level, 'info');
  });

  it('REJECTED rejects the order with the reason; a late RESERVED changes nothing and emits nothing', async () => {
    const order = await placeOrder();
    const rejected = inventoryUpdated(
      order,
      'REJECTED',
      'Insufficient stock for product 5: requested 2, available 1',
    );
    const late = inventoryUpdated(order, 'RESERVED');
    await publish(rt.producer, prefix(), 'order.inventory.updated', order.id, [rejected, late]);
    await handled(late.eventId);

    const after = await getOrder(order.id);
    assert.equal(after.status, 'REJECTED');
    assert.equal(after.rejectionReason, 'Insufficient stock for product 5: requested 2, available 1');
    assert.equal((await confirmedRows(order)).length, 0);
    assert.ok(
      rt.lines.some(
        (l) => l.eventId === late.eventId && l.level === 'debug' && /ignored/.test(String(l.msg)),
      ),
    );
  });

  it('order.dispatched moves CONFIRMED to DISPATCHED with the vehicle; after DELIVERED a late one changes nothing', async () => {
    const order = await placeOrder();
    const reserved = inventoryUpdated(order, 'RESERVED');
    await publish(rt.producer, prefix(), 'order.inventory.updated', order.id, [reserved]);
    // Two topics give no order between them: confirm first, as the real flow does.
    await handled(reserved.eventId);
    const first = dispatched(order, 'ABC-1234');
    await publish(rt.producer, prefix(), 'order.dispatched', order.id, [first]);
    await handled(first.eventId);
    const dispatchedOrder = await getOrder(order.id);
    assert.equal(dispatchedOrder.status, 'DISPATCHED');
    assert.equal(dispatchedOrder.vehicleNumber, 'ABC-1234');

    assert.equal(
      (await call('PATCH', `${server.url}/orders/${order.id}`, { status: 'DELIVERED' })).status,
      200,
    );
    const late = dispatched(order, 'XYZ-9999');
    await publish(rt.producer, prefix(), 'order.dispatched', order.id, [late]);
    await handled(late.eventId);
    const delivered = await getOrder(order.id);
    assert.equal(delivered.status, 'DELIVERED');
    assert.equal(delivered.vehicleNumber, 'ABC-1234');
  });

  it('order.dispatched for an order already DELIVERED records the vehicle and keeps it DELIVERED', async () => {
    const order = await placeOrder();
    const reserved = inventoryUpdated(order, 'RESERVED');
    await publish(rt.producer, prefix(), 'order.inventory.updated', order.id, [reserved]);
    await handled(reserved.eventId);
    assert.equal(
      (await call('PATCH', `${server.url}/orders/${order.id}`, { status: 'DELIVERED' })).status,
      200,
    );

    const overtaken = dispatched(order, 'CAB-0001');
    await publish(rt.producer, prefix(), 'order.dispatched', order.id, [overtaken]);
    await handled(overtaken.eventId);
    const after = await getOrder(order.id);
    assert.equal(after.status, 'DELIVERED');
    assert.equal(after.vehicleNumber, 'CAB-0001');
  });

  it('an order.dispatched whose vehicle number is over 100 characters goes to the DLQ and changes nothing', async () => {
    const order = await placeOrder();
    const reserved = inventoryUpdated(order, 'RESERVED');
    await publish(rt.producer, prefix(), 'order.inventory.updated', order.id, [reserved]);
    await handled(reserved.eventId);
    const topic = topicName(prefix(), 'order.dispatched');
    const dlq = await readTopic(rt.kafka, prefix(), `${topic}.dlq`);
    try {
      const tooLong = dispatched(order, 'V'.repeat(101));
      const good = dispatched(order, 'ABC-1234');
      await publish(rt.producer, prefix(), 'order.dispatched', order.id, [tooLong, good]);
      await handled(good.eventId);
      await waitFor(() => dlq.seen.length === 1, { what: 'one message in the DLQ' });
      assert.equal(dlq.seen[0]?.headers['x-dlq-reason'], 'invalid_envelope');
      assert.equal((await getOrder(order.id)).vehicleNumber, 'ABC-1234');
    } finally {
      await dlq.stop();
    }
  });

  it('invalid messages go to the DLQ, and the next valid one is still applied', async () => {
    const order = await placeOrder();
    const topic = topicName(prefix(), 'order.inventory.updated');
    const dlq = await readTopic(rt.kafka, prefix(), `${topic}.dlq`);
    try {
      const badStatus = {
        ...inventoryUpdated(order, 'RESERVED'),
        data: { orderId: order.id, orderNumber: order.orderNumber, status: 'MAYBE' },
      };
      const unknownOrder = envelope('order.inventory.updated', {
        orderId: 987654321,
        orderNumber: 'ORD-987654321',
        status: 'RESERVED',
      });
      const good = inventoryUpdated(order, 'RESERVED');
      await publish(rt.producer, prefix(), 'order.inventory.updated', order.id, [
        '{not json',
        badStatus,
        unknownOrder,
        good,
      ]);
      await handled(good.eventId);
      assert.equal((await getOrder(order.id)).status, 'CONFIRMED');
      await waitFor(() => dlq.seen.length === 3, { what: 'three messages in the DLQ' });
      assert.deepEqual(
        dlq.seen.map((m) => m.headers['x-dlq-reason']),
        ['invalid_json', 'invalid_envelope', 'rejected_by_handler'],
      );
      assert.match(dlq.seen[2]?.headers['x-dlq-error'] ?? '', /Order 987654321 not found/);
    } finally {
      await dlq.stop();
    }
  });
});
