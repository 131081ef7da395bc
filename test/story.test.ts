/**
 * End to end: the three services as real processes (as `make up` runs them), the story the
 * assignment tells, checked through the public APIs and the services' own log files.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { client, waitFor, type Client } from '@delivery/common/testing';
import { startSystem, type System } from './support.js';

interface Order {
  id: number;
  orderNumber: string;
  status: string;
  vehicleNumber: string | null;
  rejectionReason: string | null;
}

describe('the whole story over HTTP, three real processes', () => {
  let system: System;
  let orders: Client;
  let inventory: Client;
  let dispatcher: Client;

  const place = (city: string, productId: number, quantity: number, requestId?: string) =>
    orders.post<Order>(
      '/orders',
      { customerId: 7, city, items: [{ productId, price: 49.99, quantity }] },
      requestId ? { 'x-request-id': requestId } : {},
    );

  const orderWhen = (id: number, done: (o: Order) => boolean, what: string) =>
    waitFor(
      async () => {
        const { body } = await orders.get<Order>(`/orders/${id}`);
        return done(body) ? body : undefined;
      },
      { timeoutMs: 30_000, what },
    );

  const logged = (service: keyof System['services'], msg: string) =>
    system.services[service].logLines().filter((l) => l.msg === msg);

  before(async () => {
    system = await startSystem();
    orders = client(system.services['order-service'].url);
    inventory = client(system.services['inventory-service'].url);
    dispatcher = client(system.services['dispatcher-service'].url);
    assert.equal((await inventory.post('/products', { id: 101, name: 'Rice 5kg', stock: 50 })).status, 201);
    assert.equal((await inventory.post('/products', { id: 202, name: 'Rare tea', stock: 1 })).status, 201);
    for (const [vehicle_number, city] of [
      ['ABC-1234', 'Colombo'],
      ['XYZ-5678', 'Colombo'],
      ['KDY-1001', 'Kandy'],
    ]) {
      assert.equal((await dispatcher.post('/dispatch-locations', { vehicle_number, city })).status, 201);
    }
  });
  after(() => system?.stop());

  it('the assignment’s example order is confirmed and allocated, and every service logs it under the request id', async () => {
    const requestId = 'e2e-colombo-0001';
    const placed = await place('Colombo', 101, 2, requestId);
    assert.equal(placed.status, 201);
    assert.equal(placed.body.status, 'PENDING');
    assert.equal(placed.headers.get('x-request-id'), requestId);
    const dispatched = await orderWhen(placed.body.id, (o) => o.status === 'DISPATCHED', 'DISPATCHED');
    assert.equal(dispatched.vehicleNumber, 'ABC-1234', 'the first registered vehicle of Colombo');

    const confirmed = logged('order-service', `Order confirmed ${placed.body.orderNumber}`);
    assert.equal(confirmed.length, 1);
    const allocated = await waitFor(() => {
      const lines = logged('dispatcher-service', `Vehicle allocated for order ${placed.body.orderNumber}`);
      return lines.length > 0 ? lines : undefined;
    });
    assert.equal(allocated.length, 1);
    assert.equal(allocated[0]!.vehicle_number, 'ABC-1234');
    assert.equal(allocated[0]!.city, 'Colombo');
    for (const service of ['order-service', 'inventory-service', 'dispatcher-service'] as const) {
      const lines = system.services[service].logLines().filter((l) => l.correlationId === requestId);
      assert.ok(lines.length > 0, `${service} logged the flow under ${requestId}`);
    }
  });

  it('GET /dispatch-locations/colombo lists exactly vehicle_number and city, in registration order', async () => {
    const { status, body } = await dispatcher.get<unknown[]>('/dispatch-locations/colombo');
    assert.equal(status, 200);
    assert.deepEqual(body, [
      { vehicle_number: 'ABC-1234', city: 'Colombo' },
      { vehicle_number: 'XYZ-5678', city: 'Colombo' },
    ]);
  });

  it('a city out of vehicles: the second order waits, a release hands the vehicle over, the first is DELIVERED', async () => {
    const first = (await place('Kandy', 101, 1)).body;
    const firstDispatched = await orderWhen(
      first.id,
      (o) => o.status === 'DISPATCHED',
      'first Kandy order DISPATCHED',
    );
    assert.equal(firstDispatched.vehicleNumber, 'KDY-1001');
    const second = (await place('Kandy', 101, 1)).body;
    await orderWhen(second.id, (o) => o.status === 'CONFIRMED', 'second Kandy order CONFIRMED');
    await waitFor(
      () =>
        system.services['dispatcher-service']
          .logLines()
          .some(
            (l) =>
              l.msg === 'All vehicles occupied' && l.orderNumber === second.orderNumber && l.city === 'Kandy',
          ),
      { what: '"All vehicles occupied" for the second order' },
    );

    const release = await dispatcher.patch<Record<string, unknown>>(
      '/dispatch-locations/KDY-1001/kandy/release',
    );
    assert.equal(release.status, 200);
    assert.deepEqual(release.body, {
      vehicle_number: 'KDY-1001',
      city: 'Kandy',
      orderId: first.id,
      orderNumber: first.orderNumber,
      status: 'DELIVERED',
    });
    assert.equal(
      (await orderWhen(first.id, (o) => o.status === 'DELIVERED', 'first DELIVERED')).vehicleNumber,
      'KDY-1001',
    );
    const secondDispatched = await orderWhen(
      second.id,
      (o) => o.status === 'DISPATCHED',
      'second DISPATCHED',
    );
    assert.equal(secondDispatched.vehicleNumber, 'KDY-1001');
    assert.equal(logged('dispatcher-service', `Vehicle allocated for order ${second.orderNumber}`).length, 1);
  });

  it('a city with no vehicle: "Cannot find vehicle", then registering one allocates it', async () => {
    const order = (await place('Galle', 101, 1)).body;
    await waitFor(
      () => logged('dispatcher-service', `Cannot find vehicle for order ${order.orderNumber}`).length === 1,
      {
        what: '"Cannot find vehicle" logged',
      },
    );
    assert.equal((await orders.get<Order>(`/orders/${order.id}`)).body.status, 'CONFIRMED');
    await dispatcher.post('/dispatch-locations', { vehicle_number: 'GLE-2001', city: 'Galle' });
    const dispatched = await orderWhen(order.id, (o) => o.status === 'DISPATCHED', 'Galle order DISPATCHED');
    assert.equal(dispatched.vehicleNumber, 'GLE-2001');
  });

  it('an order for more than is in stock is REJECTED, names the product and takes no stock', async () => {
    const order = (await place('Colombo', 202, 2)).body;
    const rejected = await orderWhen(order.id, (o) => o.status === 'REJECTED', 'REJECTED');
    assert.match(rejected.rejectionReason ?? '', /product 202/);
    assert.equal((await inventory.get<{ stock: number }>('/products/202')).body.stock, 1);
    assert.equal(logged('dispatcher-service', `Vehicle allocated for order ${order.orderNumber}`).length, 0);
  });

  it('metrics show the flow: events by topic, allocations by city, outbox backlog, route latency', async () => {
    const text = async (service: Client) => (await service.get('/metrics')).text;
    const order = await text(orders);
    assert.match(order, /events_published_total\{topic="[^"]*order\.created"/);
    assert.match(order, /events_consumed_total\{topic="[^"]*order\.inventory\.updated",outcome="ok"/);
    assert.match(order, /outbox_backlog\{[^}]*\} \d+/);
    assert.match(order, /http_request_duration_seconds_count\{[^}]*route="\/orders"/);
    assert.match(await text(dispatcher), /dispatcher_allocations_total\{[^}]*city="kandy"/i);
  });
});
