import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, envelope, listen, type ErrorBody, type TestRuntime } from '@delivery/common/testing';
import { createApp } from '../src/app.js';
import { applyInventoryResults } from '../src/orders/apply-inventory-result.js';
import { createOrderRuntime } from './support.js';

const TOKEN = 'orders-token-0123456789';

describe('with INTERNAL_TOKEN set, PATCH /orders/:id needs it', () => {
  let rt: TestRuntime;
  let server: Awaited<ReturnType<typeof listen>>;

  before(async () => {
    rt = await createOrderRuntime();
    server = await listen(createApp({ ...rt, internalToken: TOKEN }));
  });
  after(async () => {
    await server?.close();
    await rt?.close();
  });

  /** A CONFIRMED order, placed without any token: only the service-to-service moves are guarded. */
  async function confirmedOrder() {
    const placed = await call<{ id: number; orderNumber: string }>('POST', `${server.url}/orders`, {
      customerId: 1,
      city: 'Colombo',
      items: [{ productId: 101, price: 1, quantity: 1 }],
    });
    assert.equal(placed.status, 201);
    const { id, orderNumber } = placed.body;
    await applyInventoryResults(rt, [
      envelope('order.inventory.updated', { orderId: id, orderNumber, status: 'RESERVED' }),
    ]);
    return id;
  }

  const statusOf = async (id: number) =>
    (await call<{ status: string }>('GET', `${server.url}/orders/${id}`)).body.status;

  for (const [what, headers] of [
    ['no token', {}],
    ['a wrong bearer token', { authorization: `Bearer ${TOKEN.slice(1)}` }],
    ['a wrong x-internal-token', { 'x-internal-token': `${TOKEN}!` }],
    ['an empty bearer', { authorization: 'Bearer ' }],
  ] as [string, Record<string, string>][]) {
    it(`with ${what}: 401 unauthorized with WWW-Authenticate, and the order is unchanged`, async () => {
      const id = await confirmedOrder();
      const res = await call<ErrorBody>(
        'PATCH',
        `${server.url}/orders/${id}`,
        { status: 'DELIVERED' },
        headers,
      );
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.equal(res.body.error.code, 'unauthorized');
      assert.equal(await statusOf(id), 'CONFIRMED');
    });
  }

  for (const [what, headers] of [
    ['authorization: Bearer', { authorization: `Bearer ${TOKEN}` }],
    ['authorization: bearer (any case)', { authorization: `bearer ${TOKEN}` }],
    ['x-internal-token', { 'x-internal-token': TOKEN }],
  ] as [string, Record<string, string>][]) {
    it(`with the token as ${what}: 200 DELIVERED`, async () => {
      const id = await confirmedOrder();
      const res = await call<{ status: string }>(
        'PATCH',
        `${server.url}/orders/${id}`,
        { status: 'DELIVERED' },
        headers,
      );
      assert.equal(res.status, 200);
      assert.equal(res.body.status, 'DELIVERED');
    });
  }

  it('POST /orders/deliveries needs it too: 401 without, and the order unchanged; 200 with it', async () => {
    const id = await confirmedOrder();
    const body = { deliveries: [{ orderId: id }] };
    const refused = await call<ErrorBody>('POST', `${server.url}/orders/deliveries`, body, {
      authorization: `Bearer ${TOKEN}x`,
    });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'unauthorized');
    assert.equal(await statusOf(id), 'CONFIRMED');
    const res = await call<{ results: unknown[] }>('POST', `${server.url}/orders/deliveries`, body, {
      authorization: `Bearer ${TOKEN}`,
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.results, [{ orderId: id, ok: true }]);
    assert.equal(await statusOf(id), 'DELIVERED');
  });

  it('the rest of the API needs no token', async () => {
    const id = await confirmedOrder();
    assert.equal((await call('GET', `${server.url}/orders/${id}`)).status, 200);
    assert.equal((await call('GET', `${server.url}/orders?limit=1`)).status, 200);
  });
});

describe('without INTERNAL_TOKEN, PATCH /orders/:id is open (the assignment’s curl examples)', () => {
  it('a PATCH without any token is served', async () => {
    const rt = await createOrderRuntime();
    const server = await listen(createApp(rt));
    try {
      const res = await call<ErrorBody>('PATCH', `${server.url}/orders/999999`, { status: 'DELIVERED' });
      assert.equal(res.status, 404, 'past the guard: the order does not exist');
      assert.equal(res.body.error.code, 'order_not_found');
    } finally {
      await server.close();
      await rt.close();
    }
  });
});
