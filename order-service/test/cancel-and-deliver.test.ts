import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, countRows, listen, type ErrorBody, type TestRuntime } from '@delivery/common/testing';
import { createApp } from '../src/app.js';
import { applyInventoryResults } from '../src/orders/apply-inventory-result.js';
import { recordDispatches } from '../src/orders/record-dispatch.js';
import { createOrderRuntime, dispatched, inventoryUpdated, type OrderJson } from './support.js';

interface OutboxEvent {
  type: string;
  correlationId: string;
  data: Record<string, unknown>;
}

describe('cancelling and delivering by hand', () => {
  let rt: TestRuntime;
  let server: Awaited<ReturnType<typeof listen>>;
  const api = <T = OrderJson>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) => call<T>(method, `${server.url}${path}`, body, headers);

  before(async () => {
    rt = await createOrderRuntime();
    server = await listen(createApp(rt));
  });
  after(async () => {
    await server?.close();
    await rt?.close();
  });

  const place = async () =>
    (
      await api('POST', '/orders', {
        customerId: 7,
        city: 'Kandy',
        items: [{ productId: 101, price: 10, quantity: 1 }],
      })
    ).body;

  /** A placed order moved to `status` the way the consumers move it. */
  async function orderIn(status: 'PENDING' | 'CONFIRMED' | 'DISPATCHED' | 'REJECTED'): Promise<OrderJson> {
    const order = await place();
    if (status === 'PENDING') return order;
    await applyInventoryResults(rt, [
      inventoryUpdated(order, status === 'REJECTED' ? 'REJECTED' : 'RESERVED'),
    ]);
    if (status === 'DISPATCHED') await recordDispatches(rt, [dispatched(order, 'CAB-9')]);
    return (await api('GET', `/orders/${order.id}`)).body;
  }

  async function eventsOf(order: OrderJson, type: string): Promise<OutboxEvent[]> {
    const rows = (await rt.db('outbox').where({ message_key: String(order.id), topic: type })) as {
      payload: string;
    }[];
    return rows.map((r) => JSON.parse(r.payload) as OutboxEvent);
  }

  const cancelledCount = async () =>
    (await rt.metrics.registry.getSingleMetric('orders_cancelled_total')?.get())?.values[0]?.value ?? 0;

  for (const from of ['PENDING', 'CONFIRMED', 'DISPATCHED'] as const) {
    it(`cancels a ${from} order with its reason, writes order.cancelled in the request's flow, and a repeat is a no-op`, async () => {
      const order = await orderIn(from);
      const before = await cancelledCount();
      const res = await api(
        'POST',
        `/orders/${order.id}/cancel`,
        { reason: '  changed my mind ' },
        { 'x-request-id': `req-cancel-${order.id}` },
      );
      assert.equal(res.status, 200);
      assert.equal(res.body.status, 'CANCELLED');
      assert.equal(res.body.cancellationReason, 'changed my mind');
      assert.deepEqual((await api('GET', `/orders/${order.id}`)).body, res.body);
      const events = await eventsOf(order, 'order.cancelled');
      assert.deepEqual(
        events.map((e) => [e.correlationId, e.data]),
        [
          [
            `req-cancel-${order.id}`,
            { orderId: order.id, orderNumber: order.orderNumber, city: 'Kandy', reason: 'changed my mind' },
          ],
        ],
      );
      const logged = rt.lines.filter((l) => l.msg === `Order cancelled ${order.orderNumber}`);
      assert.deepEqual(
        logged.map((l) => l.correlationId),
        [`req-cancel-${order.id}`],
      );
      assert.equal(await cancelledCount(), before + 1);

      const again = await api('PATCH', `/orders/${order.id}`, { status: 'CANCELLED', reason: 'other words' });
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, res.body, 'a repeat changes nothing, not even the reason');
      assert.equal((await eventsOf(order, 'order.cancelled')).length, 1);
      assert.equal(await cancelledCount(), before + 1);
    });
  }

  it('DELIVERED and REJECTED orders cannot be cancelled (409), and a cancelled one cannot be delivered (409)', async () => {
    const delivered = await orderIn('DISPATCHED');
    assert.equal((await api('PATCH', `/orders/${delivered.id}`, { status: 'DELIVERED' })).status, 200);
    const rejected = await orderIn('REJECTED');
    const cancelled = await orderIn('CONFIRMED');
    assert.equal((await api('POST', `/orders/${cancelled.id}/cancel`)).status, 200);
    for (const [order, body] of [
      [delivered, { status: 'CANCELLED' }],
      [rejected, { status: 'CANCELLED' }],
      [cancelled, { status: 'DELIVERED' }],
    ] as const) {
      const res = await api<ErrorBody>('PATCH', `/orders/${order.id}`, body);
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'invalid_transition');
    }
    const deliveries = await api<{ results: { ok: boolean; status?: number }[] }>(
      'POST',
      '/orders/deliveries',
      {
        deliveries: [{ orderId: cancelled.id }],
      },
    );
    assert.deepEqual(
      deliveries.body.results.map((r) => [r.ok, r.status]),
      [[false, 409]],
    );
    assert.equal((await api('GET', `/orders/${cancelled.id}`)).body.status, 'CANCELLED');
    assert.equal((await eventsOf(cancelled, 'order.delivered')).length, 0);
  });

  it('bad cancellations are 400 and change nothing', async () => {
    const order = await orderIn('CONFIRMED');
    const before = await countRows(rt.db, ['orders', 'outbox']);
    const cases: [string, string, unknown][] = [
      ['POST', `/orders/${order.id}/cancel`, { reason: '' }],
      ['POST', `/orders/${order.id}/cancel`, { reason: 'x'.repeat(501) }],
      ['POST', `/orders/${order.id}/cancel`, { reason: 'line\nbreak' }],
      ['POST', `/orders/${order.id}/cancel`, { reason: 'ok', extra: 1 }],
      ['PATCH', `/orders/${order.id}`, { status: 'DELIVERED', reason: 'no reason goes with a delivery' }],
      ['POST', '/orders/abc/cancel', {}],
    ];
    for (const [method, path, body] of cases) {
      const res = await api<ErrorBody>(method, path, body);
      assert.equal(res.status, 400, `${method} ${path} ${JSON.stringify(body)}`);
    }
    assert.equal((await api('POST', '/orders/999999999/cancel')).status, 404);
    assert.deepEqual(await countRows(rt.db, ['orders', 'outbox']), before);
    assert.equal((await api('GET', `/orders/${order.id}`)).body.status, 'CONFIRMED');
  });

  it('a delivery by hand writes order.delivered with the vehicle, once', async () => {
    const order = await orderIn('DISPATCHED');
    const confirmedOnly = await orderIn('CONFIRMED');
    for (const o of [order, order, confirmedOnly])
      assert.equal(
        (
          await api(
            'PATCH',
            `/orders/${o.id}`,
            { status: 'DELIVERED' },
            { 'x-request-id': `req-hand-${o.id}` },
          )
        ).status,
        200,
      );
    assert.deepEqual(
      (await eventsOf(order, 'order.delivered')).map((e) => [e.correlationId, e.data]),
      [
        [
          `req-hand-${order.id}`,
          { orderId: order.id, orderNumber: order.orderNumber, city: 'Kandy', vehicleNumber: 'CAB-9' },
        ],
      ],
    );
    assert.deepEqual(
      (await eventsOf(confirmedOnly, 'order.delivered')).map((e) => e.data),
      [{ orderId: confirmedOnly.id, orderNumber: confirmedOnly.orderNumber, city: 'Kandy' }],
    );
  });

  it('a late order.dispatched or order.inventory.updated leaves a cancelled order CANCELLED', async () => {
    const pending = await orderIn('PENDING');
    const confirmed = await orderIn('CONFIRMED');
    for (const o of [pending, confirmed])
      assert.equal((await api('POST', `/orders/${o.id}/cancel`)).status, 200);
    await applyInventoryResults(rt, [inventoryUpdated(pending, 'RESERVED')]);
    await recordDispatches(rt, [dispatched(confirmed, 'CAB-7')]);
    for (const o of [pending, confirmed]) {
      const now = (await api('GET', `/orders/${o.id}`)).body;
      assert.equal(now.status, 'CANCELLED');
      assert.equal(now.vehicleNumber, null);
    }
    assert.equal(
      (await eventsOf(pending, 'order.confirmed')).length,
      0,
      'no order.confirmed for a cancelled order',
    );
  });

  it('ten simultaneous cancels of one order: one move, one event, all answer 200 CANCELLED', async () => {
    const order = await orderIn('DISPATCHED');
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => api('POST', `/orders/${order.id}/cancel`)),
    );
    assert.deepEqual(new Set(answers.map((a) => `${a.status} ${a.body.status}`)), new Set(['200 CANCELLED']));
    assert.equal((await eventsOf(order, 'order.cancelled')).length, 1);
  });
});
