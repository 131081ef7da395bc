import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  allTopics,
  ensureTopics,
  PoisonMessageError,
  startWorker,
  topicName,
  type Worker,
} from '@delivery/common';
import { call, envelope, listen, publish, readTopic, waitFor } from '@delivery/common/testing';
import { createApp } from '../src/app.js';
import { applyInventoryResults } from '../src/orders/apply-inventory-result.js';
import { orderEventHandlers } from '../src/orders/order-events-consumer.js';
import { recordDispatches } from '../src/orders/record-dispatch.js';
import {
  createOrderRuntime,
  dispatched,
  inventoryUpdated,
  type OrderJson,
  placeOrder as placeFixtureOrder,
} from './support.js';

const unknownOrder = () =>
  envelope('order.inventory.updated', {
    orderId: 987654321,
    orderNumber: 'ORD-987654321',
    status: 'RESERVED',
  });

async function startApi() {
  const rt = await createOrderRuntime();
  const server = await listen(createApp(rt));
  const placeOrder = (productId = 5) => placeFixtureOrder(server.url, productId);
  const getOrder = async (id: number) => (await call<OrderJson>('GET', `${server.url}/orders/${id}`)).body;
  const confirmedRows = async (order: OrderJson) =>
    (await rt.db('outbox').where({ topic: 'order.confirmed', message_key: String(order.id) })) as {
      payload: string;
    }[];
  return { rt, server, placeOrder, getOrder, confirmedRows };
}

describe('order-service batch handlers: one transaction per batch of events', () => {
  let api: Awaited<ReturnType<typeof startApi>>;

  before(async () => {
    api = await startApi();
  });
  after(async () => {
    await api?.server.close();
    await api?.rt.close();
  });

  it('a batch mixing outcomes confirms and rejects with each reason; one order.confirmed per confirmed order, under its own event’s correlation id', async () => {
    const { rt, placeOrder, getOrder, confirmedRows } = api;
    const [a, b, c, d] = await Promise.all([placeOrder(1), placeOrder(2), placeOrder(3), placeOrder(4)]);
    const events = [
      inventoryUpdated(a!, 'RESERVED'),
      inventoryUpdated(b!, 'REJECTED', 'Insufficient stock for product 2'),
      inventoryUpdated(c!, 'REJECTED', 'Product 3 not found'),
      inventoryUpdated(d!, 'RESERVED'),
    ];
    await applyInventoryResults(rt, events);

    assert.deepEqual(
      (await Promise.all([a, b, c, d].map((o) => getOrder(o!.id)))).map((o) => [o.status, o.rejectionReason]),
      [
        ['CONFIRMED', null],
        ['REJECTED', 'Insufficient stock for product 2'],
        ['REJECTED', 'Product 3 not found'],
        ['CONFIRMED', null],
      ],
    );
    for (const [order, event] of [
      [a!, events[0]!],
      [d!, events[3]!],
    ] as const) {
      const rows = await confirmedRows(order);
      assert.equal(rows.length, 1, `one order.confirmed for ${order.orderNumber}`);
      const confirmed = JSON.parse(rows[0]!.payload) as { correlationId: string; data: unknown };
      assert.equal(confirmed.correlationId, event.correlationId);
      assert.deepEqual(confirmed.data, {
        orderId: order.id,
        orderNumber: order.orderNumber,
        customerId: 7,
        city: 'Galle',
        items: [{ productId: order.items[0]!.productId, price: '12.50', quantity: 2 }],
        totalAmount: '25.00',
      });
      const logged = rt.lines.filter((l) => l.msg === `Order confirmed ${order.orderNumber}`);
      assert.equal(logged.length, 1);
      assert.equal(logged[0]?.correlationId, event.correlationId, 'the log line keeps its flow');
    }
    assert.equal((await confirmedRows(b!)).length + (await confirmedRows(c!)).length, 0);
    const rejectedLog = rt.lines.find((l) => l.msg === `Order rejected ${c!.orderNumber}`);
    assert.equal(rejectedLog?.correlationId, events[2]!.correlationId);
  });

  it('the same event twice in a batch is applied once, and again in a later batch changes nothing', async () => {
    const { rt, placeOrder, getOrder, confirmedRows } = api;
    const order = await placeOrder();
    const reserved = inventoryUpdated(order, 'RESERVED');
    await applyInventoryResults(rt, [reserved, reserved]);
    await applyInventoryResults(rt, [reserved]);

    assert.equal((await getOrder(order.id)).status, 'CONFIRMED');
    assert.equal((await confirmedRows(order)).length, 1);
    const ignored = rt.lines.filter(
      (l) =>
        l.eventId === reserved.eventId &&
        l.msg === 'order.inventory.updated RESERVED ignored: order is CONFIRMED',
    );
    assert.equal(ignored.length, 2, 'the copy in the batch and the later one');
    assert.equal(ignored[0]?.correlationId, reserved.correlationId);
  });

  it('two events of one order in a batch see each other: RESERVED then REJECTED stays CONFIRMED, REJECTED then RESERVED stays REJECTED', async () => {
    const { rt, placeOrder, getOrder, confirmedRows } = api;
    const [first, second] = await Promise.all([placeOrder(), placeOrder()]);
    const late = inventoryUpdated(first!, 'REJECTED', 'too late');
    await applyInventoryResults(rt, [
      inventoryUpdated(first!, 'RESERVED'),
      inventoryUpdated(second!, 'REJECTED', 'Insufficient stock'),
      late,
      inventoryUpdated(second!, 'RESERVED'),
    ]);

    const [one, two] = await Promise.all([getOrder(first!.id), getOrder(second!.id)]);
    assert.deepEqual([one.status, one.rejectionReason], ['CONFIRMED', null]);
    assert.deepEqual([two.status, two.rejectionReason], ['REJECTED', 'Insufficient stock']);
    assert.equal((await confirmedRows(first!)).length, 1);
    assert.equal((await confirmedRows(second!)).length, 0);
    const ignored = rt.lines.find((l) => l.eventId === late.eventId);
    assert.equal(ignored?.msg, 'order.inventory.updated REJECTED ignored: order is CONFIRMED');
  });

  it('a batch of order.dispatched gives each order its own vehicle, records the vehicle of a DELIVERED order without moving it, and ignores a second dispatch of one order', async () => {
    const { rt, server, placeOrder, getOrder } = api;
    const [a, b, delivered] = await Promise.all([placeOrder(), placeOrder(), placeOrder()]);
    await applyInventoryResults(
      rt,
      [a!, b!, delivered!].map((o) => inventoryUpdated(o, 'RESERVED')),
    );
    const patched = await call('PATCH', `${server.url}/orders/${delivered!.id}`, { status: 'DELIVERED' });
    assert.equal(patched.status, 200);

    await recordDispatches(rt, [
      dispatched(a!, 'CAB-0001'),
      dispatched(delivered!, 'CAB-0003'),
      dispatched(b!, 'CAB-0002'),
      dispatched(a!, 'CAB-9999'),
    ]);

    const after = await Promise.all([a, b, delivered].map((o) => getOrder(o!.id)));
    assert.deepEqual(
      after.map((o) => [o.status, o.vehicleNumber]),
      [
        ['DISPATCHED', 'CAB-0001'],
        ['DISPATCHED', 'CAB-0002'],
        ['DELIVERED', 'CAB-0003'],
      ],
    );
    assert.ok(rt.lines.some((l) => l.msg === `Order dispatched ${a!.orderNumber}`));
    assert.ok(
      rt.lines.some((l) => l.msg === `Vehicle recorded for delivered order ${delivered!.orderNumber}`),
    );
    assert.ok(rt.lines.some((l) => l.msg === 'order.dispatched ignored: order is DISPATCHED'));
  });

  it('order.dispatched of CONFIRMED orders is one UPDATE, no transaction; a redelivery is one UPDATE that moves nothing', async () => {
    const { rt, placeOrder, getOrder } = api;
    const [a, b] = await Promise.all([placeOrder(), placeOrder()]);
    await applyInventoryResults(
      rt,
      [a!, b!].map((o) => inventoryUpdated(o, 'RESERVED')),
    );
    const events = [dispatched(a!, 'ONE-0001'), dispatched(b!, 'ONE-0002')];
    const statements: string[] = [];
    const record = (q: { sql: string }) => statements.push(q.sql);
    rt.db.on('query', record);
    try {
      await recordDispatches(rt, events);
      assert.equal(statements.length, 1, statements.join('\n'));
      assert.match(statements[0]!, /^UPDATE orders SET status = \?/);
      const after = await Promise.all([a, b].map((o) => getOrder(o!.id)));
      assert.deepEqual(
        after.map((o) => [o.status, o.vehicleNumber]),
        [
          ['DISPATCHED', 'ONE-0001'],
          ['DISPATCHED', 'ONE-0002'],
        ],
      );

      statements.length = 0;
      await recordDispatches(rt, [events[0]!]);
      const redelivered = statements.join('\n');
      assert.doesNotMatch(redelivered, /INSERT|processed_events/, 'nothing written for a repeat');
    } finally {
      rt.db.off('query', record);
    }
    assert.deepEqual((await getOrder(a!.id)).vehicleNumber, 'ONE-0001');
    const dispatchedLogs = rt.lines.filter((l) => l.msg === `Order dispatched ${a!.orderNumber}`);
    assert.equal(dispatchedLogs.length, 1, 'the repeat is not logged as a dispatch');
    assert.ok(
      rt.lines.some(
        (l) => l.eventId === events[0]!.eventId && l.msg === 'order.dispatched ignored: order is DISPATCHED',
      ),
    );
  });

  it('a batch whose single UPDATE moves only some orders: those count as dispatched, a DELIVERED one learns its vehicle', async () => {
    const { rt, server, placeOrder, getOrder } = api;
    const [a, delivered, b] = await Promise.all([placeOrder(), placeOrder(), placeOrder()]);
    await applyInventoryResults(
      rt,
      [a!, delivered!, b!].map((o) => inventoryUpdated(o, 'RESERVED')),
    );
    const patched = await call('PATCH', `${server.url}/orders/${delivered!.id}`, { status: 'DELIVERED' });
    assert.equal(patched.status, 200);

    await recordDispatches(rt, [
      dispatched(a!, 'MIX-0001'),
      dispatched(delivered!, 'MIX-0002'),
      dispatched(b!, 'MIX-0003'),
    ]);

    const after = await Promise.all([a, delivered, b].map((o) => getOrder(o!.id)));
    assert.deepEqual(
      after.map((o) => [o.status, o.vehicleNumber]),
      [
        ['DISPATCHED', 'MIX-0001'],
        ['DELIVERED', 'MIX-0002'],
        ['DISPATCHED', 'MIX-0003'],
      ],
    );
    for (const o of [a!, b!])
      assert.equal(rt.lines.filter((l) => l.msg === `Order dispatched ${o.orderNumber}`).length, 1);
    assert.ok(
      rt.lines.some((l) => l.msg === `Vehicle recorded for delivered order ${delivered!.orderNumber}`),
    );
  });

  it('a batch holding an event for an unknown order throws PoisonMessageError and applies none of it', async () => {
    const { rt, placeOrder, getOrder, confirmedRows } = api;
    const order = await placeOrder();
    const good = inventoryUpdated(order, 'RESERVED');
    const poison = unknownOrder();
    await assert.rejects(applyInventoryResults(rt, [good, poison]), PoisonMessageError);

    assert.equal((await getOrder(order.id)).status, 'PENDING');
    assert.equal((await confirmedRows(order)).length, 0);
  });
});

describe('the consumer loop with batch handlers: a fetched batch holding a poison event', () => {
  let api: Awaited<ReturnType<typeof startApi>>;
  let worker: Worker | undefined;

  before(async () => {
    api = await startApi();
  });
  after(async () => {
    await worker?.stop();
    await api?.server.close();
    await api?.rt.close();
  });

  it('applies every other event of the batch and sends only the poison one to the DLQ', async () => {
    const { rt, placeOrder, getOrder, confirmedRows } = api;
    const prefix = rt.config.KAFKA_TOPIC_PREFIX;
    const [a, b, c] = await Promise.all([placeOrder(), placeOrder(), placeOrder()]);
    const poison = unknownOrder();
    const reservedA = inventoryUpdated(a!, 'RESERVED');
    const events = [
      reservedA,
      poison,
      inventoryUpdated(b!, 'RESERVED'),
      reservedA,
      inventoryUpdated(c!, 'REJECTED', 'Insufficient stock'),
    ];
    // All under one key, written before the consumer starts: one partition, fetched as one batch.
    await rt.admin.connect();
    await ensureTopics(rt.admin, allTopics(prefix), rt.config.KAFKA_PARTITIONS);
    await rt.producer.connect();
    await publish(rt.producer, prefix, 'order.inventory.updated', a!.id, events);
    const dlq = await readTopic(rt.kafka, prefix, `${topicName(prefix, 'order.inventory.updated')}.dlq`);
    try {
      worker = startWorker(rt, { handlers: orderEventHandlers(rt) });
      await worker.ready;
      await waitFor(
        async () =>
          (await getOrder(c!.id)).status === 'REJECTED' && (await getOrder(b!.id)).status === 'CONFIRMED',
        { what: 'the good events applied' },
      );
      await waitFor(() => dlq.seen.length >= 1, { what: 'the poison event in the DLQ' });

      assert.equal((await getOrder(a!.id)).status, 'CONFIRMED');
      assert.equal((await confirmedRows(a!)).length, 1, 'the duplicate of a was skipped');
      assert.ok(
        rt.lines.some((l) => l.msg === 'batch handler failed; trying halves'),
        'the events were first handled as one batch',
      );
      assert.equal(dlq.seen.length, 1);
      assert.equal(dlq.seen[0]?.headers['x-dlq-reason'], 'rejected_by_handler');
      assert.equal((JSON.parse(dlq.seen[0]!.value) as { eventId: string }).eventId, poison.eventId);
    } finally {
      await dlq.stop();
    }
  });
});
