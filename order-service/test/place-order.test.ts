import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, createTestRuntime, listen, type ErrorBody, type TestRuntime } from '@delivery/common/testing';
import { createApp } from '../src/app.js';
import { orderPlacer } from '../src/orders/place-order.js';
import { orderNumberFor } from '../src/orders/orders-repository.js';
import { createOrderRuntime, type OrderJson } from './support.js';

/** Order i of a run: its own customer, city and items, so a mix-up between requests shows. */
const buildOrder = (i: number) => ({
  customerId: 1000 + i,
  city: `City-${i}`,
  items: Array.from({ length: (i % 3) + 1 }, (_, k) => ({
    productId: 100 * i + k + 1,
    price: Number(`${i}.${String(k * 7).padStart(2, '0')}`),
    quantity: k + 1,
  })),
});

async function startApi(config?: Parameters<typeof createTestRuntime>[0]['config']) {
  const rt = await createOrderRuntime({ config });
  const server = await listen(createApp(rt));
  return { rt, server };
}

/** Fires the orders at once, each with its own x-request-id. */
function postAll(url: string, count: number, prefix: string) {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      call<OrderJson>('POST', `${url}/orders`, buildOrder(i), { 'x-request-id': `${prefix}-${i}` }),
    ),
  );
}

describe('POST /orders under concurrency: requests written together', () => {
  let rt: TestRuntime;
  let server: Awaited<ReturnType<typeof listen>>;

  before(async () => {
    ({ rt, server } = await startApi());
  });
  after(async () => {
    await server?.close();
    await rt?.close();
  });

  it('50 concurrent POSTs each answer 201 with exactly what a later GET returns, and each has one order.created with its data and its request id', async () => {
    const answers = await postAll(server.url, 50, 'burst');

    assert.deepEqual(
      answers.map((a) => a.status),
      answers.map(() => 201),
    );
    assert.equal(new Set(answers.map((a) => a.body.id)).size, 50, 'distinct ids');
    for (const [i, { body: placed }] of answers.entries()) {
      const input = buildOrder(i);
      assert.equal(placed.customerId, input.customerId, 'each request got its own order');
      assert.deepEqual(placed.items, input.items);
      assert.equal(placed.orderNumber, orderNumberFor(placed.id));
      assert.equal(placed.status, 'PENDING');
      assert.equal(placed.createdAt, placed.updatedAt);
      const fetched = await call<OrderJson>('GET', `${server.url}/orders/${placed.id}`);
      assert.deepEqual(fetched.body, placed, `GET /orders/${placed.id} equals the POST's answer`);

      const rows = (await rt.db('outbox').where({ message_key: String(placed.id) })) as {
        topic: string;
        payload: string;
      }[];
      assert.equal(rows.length, 1, `one outbox row for order ${placed.id}`);
      const event = JSON.parse(rows[0]!.payload) as { type: string; correlationId: string; data: unknown };
      assert.equal(rows[0]!.topic, 'order.created');
      assert.equal(event.type, 'order.created');
      assert.equal(event.correlationId, `burst-${i}`, 'the event carries its own request id');
      assert.deepEqual(event.data, {
        orderId: placed.id,
        orderNumber: placed.orderNumber,
        customerId: input.customerId,
        city: input.city,
        items: input.items.map((it) => ({ ...it, price: it.price.toFixed(2) })),
        totalAmount: placed.totalAmount.toFixed(2),
      });
      const logged = rt.lines.filter((l) => l.msg === `Order placed ${placed.orderNumber}`);
      assert.equal(logged.length, 1);
      assert.equal(logged[0]?.correlationId, `burst-${i}`, 'the log line carries its own request id');
      assert.equal(logged[0]?.orderId, placed.id);
    }
    const [{ n }] = (await rt.db('outbox').where({ topic: 'order.created' }).count({ n: '*' })) as [
      { n: number },
    ];
    assert.equal(Number(n), 50, 'no other order.created rows');
  });
});

describe('POST /orders past id 999999', () => {
  it('order numbers of 7 digits are as orderNumberFor says, in the answers and in what GET reads back', async () => {
    const { rt, server } = await startApi();
    try {
      await rt.db.raw('ALTER TABLE orders AUTO_INCREMENT = 999998');
      const answers = await postAll(server.url, 6, 'big');
      assert.deepEqual(
        answers.map((a) => a.status),
        answers.map(() => 201),
      );
      const ids = answers.map((a) => a.body.id).sort((x, y) => x - y);
      assert.deepEqual(ids, [999998, 999999, 1000000, 1000001, 1000002, 1000003]);
      assert.deepEqual(
        [...answers].sort((x, y) => x.body.id - y.body.id).map((a) => a.body.orderNumber),
        ids.map(orderNumberFor),
      );
      assert.equal(orderNumberFor(1000000), 'ORD-1000000');
      for (const { body } of answers)
        assert.deepEqual((await call<OrderJson>('GET', `${server.url}/orders/${body.id}`)).body, body);
    } finally {
      await server.close();
      await rt.close();
    }
  });
});

describe('POST /orders while the database is unreachable', () => {
  it('every one of several concurrent requests answers 503 dependency_unavailable', async () => {
    // Nothing listens on port 1: every connection to "MySQL" is refused.
    const { rt, server } = await startApi({ MYSQL_URL: 'mysql://root@127.0.0.1:1' });
    try {
      const answers = await postAll(server.url, 8, 'down');
      for (const a of answers) {
        assert.equal(a.status, 503);
        assert.equal((a.body as unknown as ErrorBody).error.code, 'dependency_unavailable');
      }
    } finally {
      await server.close();
      await rt.close();
    }
  });
});

describe('a batch of orders whose COMMIT fails', () => {
  it('is not written again: every caller gets the error and each order exists once', async () => {
    const { rt, server } = await startApi();
    try {
      const lost = Object.assign(new Error('Connection lost: The server closed the connection.'), {
        code: 'PROTOCOL_CONNECTION_LOST',
        fatal: true,
      });
      // Commits, then answers the way a connection lost during COMMIT does.
      const db = new Proxy(rt.db, {
        get: (target, prop, receiver) =>
          prop === 'transaction'
            ? async (fn: Parameters<typeof target.transaction>[0]) => {
                await target.transaction(fn);
                throw lost;
              }
            : Reflect.get(target, prop, receiver),
      });
      const place = orderPlacer({ ...rt, db });
      // Two are written alone at once (two transactions in flight), the other four as one batch.
      const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => place(buildOrder(i))));

      for (const result of results) assert.equal(result.status === 'rejected' && result.reason, lost);
      const orders = (await rt.db('orders').select('customer_id')) as { customer_id: number }[];
      assert.deepEqual(
        orders.map((o) => o.customer_id).sort(),
        Array.from({ length: 6 }, (_, i) => buildOrder(i).customerId),
      );
      const events = (await rt.db('outbox').where({ topic: 'order.created' })) as unknown[];
      assert.equal(events.length, 6);
    } finally {
      await server.close();
      await rt.close();
    }
  });
});
