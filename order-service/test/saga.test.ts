import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { envelopeSchema, startWorker, topicName, type Worker } from '@delivery/common';
import {
  call,
  createTestRuntime,
  deleteTestTopics,
  listen,
  readTopic,
  testTopicPrefix,
  waitFor,
  type TestRuntime,
  type TopicReader,
} from '@delivery/common/testing';
import { createApp as createInventoryApp } from '../../inventory-service/src/app.js';
import { inventoryEventHandlers } from '../../inventory-service/src/reservations/order-events-consumer.js';
import { createApp as createOrderApp } from '../src/app.js';
import { orderEventHandlers } from '../src/orders/order-events-consumer.js';
import { createOrderRuntime, INVENTORY_MIGRATIONS, type OrderJson } from './support.js';

type Server = Awaited<ReturnType<typeof listen>>;

describe('the confirmation saga: order-service and inventory-service together', () => {
  const prefix = testTopicPrefix();
  let orders: TestRuntime;
  let inventory: TestRuntime;
  let workers: Worker[] = [];
  let orderApi: Server;
  let inventoryApi: Server;
  let confirmedTopic: TopicReader;

  before(async () => {
    orders = await createOrderRuntime({ topicPrefix: prefix });
    inventory = await createTestRuntime({
      name: 'inventory-service',
      database: 'inventory',
      migrationsDir: INVENTORY_MIGRATIONS,
      topicPrefix: prefix,
    });
    workers = [
      startWorker(orders, { handlers: orderEventHandlers(orders) }),
      startWorker(inventory, { handlers: inventoryEventHandlers(inventory) }),
    ];
    await Promise.all(workers.map((w) => w.ready));
    orderApi = await listen(createOrderApp(orders));
    inventoryApi = await listen(createInventoryApp(inventory));
    confirmedTopic = await readTopic(orders.kafka, prefix, topicName(prefix, 'order.confirmed'));
  });
  after(async () => {
    await confirmedTopic?.stop();
    await orderApi?.close();
    await inventoryApi?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await orders?.close();
    await inventory?.close();
    await deleteTestTopics(prefix);
  });

  const createProduct = async (stock: number) =>
    (await call<{ id: number }>('POST', `${inventoryApi.url}/products`, { name: 'Rice 5kg', stock })).body.id;
  const stockOf = async (id: number) =>
    (await call<{ stock: number }>('GET', `${inventoryApi.url}/products/${id}`)).body.stock;
  const placeOrder = async (
    items: { productId: number; price: number; quantity: number }[],
    requestId?: string,
  ) => {
    const res = await call<OrderJson>(
      'POST',
      `${orderApi.url}/orders`,
      { customerId: 1, city: 'Colombo', items },
      requestId ? { 'x-request-id': requestId } : {},
    );
    assert.equal(res.status, 201);
    return res.body;
  };
  /** Waits until inventory has answered and order-service applied it. */
  const settled = (id: number) =>
    waitFor(
      async () => {
        const order = (await call<OrderJson>('GET', `${orderApi.url}/orders/${id}`)).body;
        return order.status !== 'PENDING' && order;
      },
      { what: `order ${id} confirmed or rejected` },
    );
  const allSettled = (ids: number[]) =>
    waitFor(
      async () => {
        const rows = (await orders.db('orders').whereIn('id', ids).select('id', 'status')) as {
          id: number;
          status: string;
        }[];
        return rows.every((r) => r.status !== 'PENDING') && rows;
      },
      { what: `${ids.length} orders settled`, timeoutMs: 60_000 },
    );

  it('an order for products in stock is CONFIRMED, the stock taken, and order.confirmed published with the §4 envelope', async () => {
    const productId = await createProduct(20);
    const placed = await placeOrder([{ productId, price: 49.99, quantity: 2 }], 'saga-confirm-1');

    const order = await settled(placed.id);
    assert.equal(order.status, 'CONFIRMED');
    assert.equal(await stockOf(productId), 18);
    const message = await waitFor(() => confirmedTopic.seen.find((m) => m.key === String(placed.id)), {
      what: 'order.confirmed',
    });
    const envelope = JSON.parse(message.value) as Record<string, unknown>;
    assert.deepEqual(Object.keys(envelope).sort(), [
      'correlationId',
      'data',
      'eventId',
      'occurredAt',
      'type',
      'version',
    ]);
    const parsed = envelopeSchema('order.confirmed').parse(envelope);
    assert.equal(parsed.type, 'order.confirmed');
    assert.equal(parsed.version, 1);
    assert.equal(
      parsed.correlationId,
      'saga-confirm-1',
      'the x-request-id of the POST travels through the flow',
    );
    assert.deepEqual(parsed.data, {
      orderId: placed.id,
      orderNumber: placed.orderNumber,
      customerId: 1,
      city: 'Colombo',
      items: [{ productId, price: '49.99', quantity: 2 }],
      totalAmount: '99.98',
    });
    const logged = orders.lines.find((l) => l.msg === `Order confirmed ${placed.orderNumber}`);
    assert.equal(logged?.orderId, placed.id);
    assert.equal(logged?.correlationId, 'saga-confirm-1');
  });

  it('when stock is short, the order is REJECTED with the reason and the stock is unchanged', async () => {
    const productId = await createProduct(2);
    const placed = await placeOrder([{ productId, price: 3.5, quantity: 5 }]);
    const order = await settled(placed.id);
    assert.equal(order.status, 'REJECTED');
    assert.equal(
      order.rejectionReason,
      `Insufficient stock for product ${productId}: requested 5, available 2`,
    );
    assert.equal(await stockOf(productId), 2);
    assert.equal(
      (await orders.db('outbox').where({ topic: 'order.confirmed', message_key: String(placed.id) })).length,
      0,
    );
  });

  it('an order for an unknown product is REJECTED as not found and takes no stock from its other items', async () => {
    const productId = await createProduct(5);
    const placed = await placeOrder([
      { productId, price: 1, quantity: 1 },
      { productId: 888_888, price: 1, quantity: 1 },
    ]);
    const order = await settled(placed.id);
    assert.equal(order.status, 'REJECTED');
    assert.equal(order.rejectionReason, 'Product 888888 not found');
    assert.equal(await stockOf(productId), 5);
  });

  it('50 concurrent orders of one unit against a stock of 20: exactly 20 CONFIRMED, 30 REJECTED, stock ends at 0', async () => {
    const productId = await createProduct(20);
    const placed = await Promise.all(
      Array.from({ length: 50 }, () => placeOrder([{ productId, price: 2, quantity: 1 }])),
    );
    const rows = await allSettled(placed.map((o) => o.id));
    const confirmed = rows.filter((r) => r.status === 'CONFIRMED');
    assert.equal(confirmed.length, 20);
    assert.equal(rows.filter((r) => r.status === 'REJECTED').length, 30);
    assert.equal(await stockOf(productId), 0);
    const reserved = await inventory
      .db('reservations')
      .whereIn(
        'order_id',
        placed.map((o) => o.id),
      )
      .where({ status: 'RESERVED' });
    assert.deepEqual(reserved.map((r) => r.order_id as number).sort(), confirmed.map((r) => r.id).sort());
  });

  it('concurrent orders of mixed quantities never oversell: confirmed quantity + final stock = 20, every rejected order needed more than was left', async () => {
    const productId = await createProduct(20);
    const quantities = Array.from({ length: 30 }, (_, i) => (i % 3) + 1);
    const placed = await Promise.all(
      quantities.map((quantity) => placeOrder([{ productId, price: 2, quantity }])),
    );
    const rows = await allSettled(placed.map((o) => o.id));
    const quantityOf = new Map(placed.map((o) => [o.id, o.items[0]!.quantity]));
    const finalStock = await stockOf(productId);
    const confirmedQuantity = rows
      .filter((r) => r.status === 'CONFIRMED')
      .reduce((sum, r) => sum + quantityOf.get(r.id)!, 0);
    assert.ok(finalStock >= 0);
    assert.equal(confirmedQuantity + finalStock, 20);
    const rejected = rows.filter((r) => r.status === 'REJECTED');
    assert.ok(rejected.length > 0, 'orders for 60 units cannot all fit 20');
    for (const r of rejected)
      assert.ok(quantityOf.get(r.id)! > finalStock, `order ${r.id} was rejected although it fit`);
  });
});
