/**
 * Cancelling an order end to end: the three services as real processes, the compensating saga
 * checked through the public APIs, the services' databases and their log files.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDb, type Db } from '@delivery/common';
import { client, uniqueId, waitFor } from '@delivery/common/testing';
import { startSystem, stopProcess, waitForConsumed, type System } from './support.js';

interface Order {
  id: number;
  orderNumber: string;
  status: string;
  vehicleNumber: string | null;
}

describe('cancelling orders and delivering by hand, three real processes', () => {
  let system: System;
  let orderDb: Db;
  let dispatchDb: Db;
  let inventoryDb: Db;
  const api = (service: keyof System['services']) => client(system.services[service].url);

  const place = async (city: string, productId: number, quantity: number, requestId?: string) => {
    const res = await api('order-service').post<Order>(
      '/orders',
      { customerId: 3, city, items: [{ productId, price: 1.5, quantity }] },
      requestId ? { 'x-request-id': requestId } : {},
    );
    assert.equal(res.status, 201);
    return res.body;
  };
  const cancel = (order: Order, requestId?: string) =>
    api('order-service').post<Order & { error?: { code: string } }>(
      `/orders/${order.id}/cancel`,
      { reason: 'test' },
      requestId ? { 'x-request-id': requestId } : {},
    );
  const orderNow = async (id: number) => (await api('order-service').get<Order>(`/orders/${id}`)).body;
  const orderWhen = (id: number, done: (o: Order) => boolean, what: string) =>
    waitFor(
      async () => {
        const o = await orderNow(id);
        return done(o) ? o : undefined;
      },
      { timeoutMs: 30_000, what },
    );
  const stockOf = async (productId: number) =>
    (await api('inventory-service').get<{ stock: number }>(`/products/${productId}`)).body.stock;
  const newProduct = async (stock: number) => {
    const id = 1_000 + Math.floor(Math.random() * 1_000_000);
    assert.equal(
      (await api('inventory-service').post('/products', { id, name: `P${id}`, stock })).status,
      201,
    );
    return id;
  };
  const register = async (vehicle_number: string, city: string) =>
    assert.equal(
      (await api('dispatcher-service').post('/dispatch-locations', { vehicle_number, city })).status,
      201,
    );
  const activeOrders = async () =>
    (
      (await dispatchDb('assignments').where({ status: 'ACTIVE' }).select('order_id')) as {
        order_id: number;
      }[]
    ).map((r) => Number(r.order_id));
  const waitingOrders = async () =>
    ((await dispatchDb('waiting_orders').select('order_id')) as { order_id: number }[]).map((r) =>
      Number(r.order_id),
    );
  const logged = (service: keyof System['services'], msg: string) =>
    system.services[service].logLines().filter((l) => l.msg === msg);

  before(async () => {
    system = await startSystem();
    orderDb = createDb({ url: system.mysqlUrl, database: system.services['order-service'].database });
    dispatchDb = createDb({ url: system.mysqlUrl, database: system.services['dispatcher-service'].database });
    inventoryDb = createDb({ url: system.mysqlUrl, database: system.services['inventory-service'].database });
  });
  after(async () => {
    await orderDb?.destroy();
    await dispatchDb?.destroy();
    await inventoryDb?.destroy();
    await system?.stop();
  });

  it('a PENDING order cancelled before inventory saw it reserves nothing when inventory comes back', async () => {
    const product = await newProduct(10);
    assert.equal(await stopProcess(system.services['inventory-service'].process), 0);
    const order = await place(`Nowhere ${uniqueId()}`, product, 4);
    const res = await cancel(order);
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'CANCELLED');
    await system.services['inventory-service'].start();
    await waitFor(
      async () =>
        (await inventoryDb('reservations').where({ order_id: order.id, status: 'CANCELLED' })).length === 1,
      {
        what: 'inventory holds the order as cancelled',
      },
    );
    // order.created may have come first (reserved, then returned) or second (reserved nothing).
    await waitFor(async () => (await stockOf(product)) === 10, { what: 'the stock back to 10' });
    assert.equal((await orderNow(order.id)).status, 'CANCELLED');
  });

  it('a CONFIRMED order waiting for a vehicle: stock back, off the queue, a new vehicle stays free', async () => {
    const product = await newProduct(10);
    const city = `Waitville ${uniqueId()}`;
    const order = await place(city, product, 3);
    await orderWhen(order.id, (o) => o.status === 'CONFIRMED', 'CONFIRMED');
    await waitFor(async () => (await waitingOrders()).includes(order.id), { what: 'the order waiting' });
    assert.equal(await stockOf(product), 7);
    assert.equal((await cancel(order)).status, 200);
    await waitFor(async () => !(await waitingOrders()).includes(order.id), { what: 'off the queue' });
    await waitFor(async () => (await stockOf(product)) === 10, { what: 'the stock back to 10' });
    const vehicle = `W-${uniqueId().toUpperCase()}`;
    await register(vehicle, city);
    const free = await api('dispatcher-service').get<{ vehicle_number: string }[]>(
      `/dispatch-locations/${encodeURIComponent(city)}?available=true`,
    );
    assert.deepEqual(
      free.body.map((v) => v.vehicle_number),
      [vehicle],
    );
    assert.equal((await orderNow(order.id)).status, 'CANCELLED');
  });

  it('a DISPATCHED order: stock back, its vehicle handed to the oldest waiting order, each step logged under the cancel request id', async () => {
    const product = await newProduct(10);
    const city = `Busytown ${uniqueId()}`;
    const vehicle = `B-${uniqueId().toUpperCase()}`;
    await register(vehicle, city);
    const riding = await place(city, product, 2);
    await orderWhen(riding.id, (o) => o.status === 'DISPATCHED', 'DISPATCHED');
    const waiting = await place(city, product, 1);
    await waitFor(async () => (await waitingOrders()).includes(waiting.id), {
      what: 'the second order waiting',
    });

    const requestId = `cancel-${uniqueId()}`;
    const res = await cancel(riding, requestId);
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'CANCELLED');
    const next = await orderWhen(
      waiting.id,
      (o) => o.status === 'DISPATCHED',
      'the waiting order DISPATCHED',
    );
    assert.equal(next.vehicleNumber, vehicle);
    await waitFor(async () => (await stockOf(product)) === 9, { what: 'the cancelled order’s 2 back' });
    const inFlow = (service: keyof System['services'], msg: string) =>
      logged(service, msg).filter((l) => l.correlationId === requestId).length;
    await waitFor(
      () =>
        inFlow('order-service', `Order cancelled ${riding.orderNumber}`) === 1 &&
        inFlow('inventory-service', `Stock returned for order ${riding.orderNumber}`) === 1 &&
        inFlow('dispatcher-service', `Vehicle released from order ${riding.orderNumber}`) === 1,
      { what: 'the three services logging the cancel in its flow' },
    );
    const final = await orderNow(riding.id);
    assert.equal(final.status, 'CANCELLED', 'a late order.dispatched does not move it');
  });

  it('a delivery by hand frees the vehicle for the oldest waiting order; a waiting order delivered by hand leaves the queue', async () => {
    const product = await newProduct(10);
    const city = `Handville ${uniqueId()}`;
    const vehicle = `H-${uniqueId().toUpperCase()}`;
    await register(vehicle, city);
    const riding = await place(city, product, 1);
    await orderWhen(riding.id, (o) => o.status === 'DISPATCHED', 'DISPATCHED');
    const [handDelivered, next] = [await place(city, product, 1), await place(city, product, 1)];
    await waitFor(async () => (await waitingOrders()).includes(next.id), { what: 'two orders waiting' });
    const byHand = (order: Order) =>
      api('order-service').patch(`/orders/${order.id}`, { status: 'DELIVERED' });

    assert.equal((await byHand(handDelivered)).status, 200, 'a waiting (CONFIRMED) order delivered by hand');
    await waitFor(async () => !(await waitingOrders()).includes(handDelivered.id), { what: 'off the queue' });
    assert.equal((await byHand(riding)).status, 200, 'the riding order delivered by hand');
    const served = await orderWhen(
      next.id,
      (o) => o.status === 'DISPATCHED',
      'the live order takes the vehicle',
    );
    assert.equal(served.vehicleNumber, vehicle);
    assert.equal((await orderNow(handDelivered.id)).status, 'DELIVERED', 'never dispatched');
    assert.ok(!(await activeOrders()).includes(handDelivered.id));
  });

  it('cancel against release, five times: exactly one wins, the other gets 409, and the loser changes nothing', async () => {
    const product = await newProduct(100);
    let expectedStock = 100;
    for (let round = 0; round < 5; round++) {
      const city = `Racetown ${uniqueId()}`;
      const vehicle = `R-${uniqueId().toUpperCase()}`;
      await register(vehicle, city);
      const order = await place(city, product, 1);
      expectedStock -= 1;
      await orderWhen(order.id, (o) => o.status === 'DISPATCHED', 'DISPATCHED');
      const [cancelled, released] = await Promise.all([
        cancel(order),
        api('dispatcher-service').patch<{ error?: { code: string } }>(
          `/dispatch-locations/${vehicle}/release`,
          { orderId: order.id },
        ),
      ]);
      assert.deepEqual(
        [cancelled.status, released.status].sort(),
        [200, 409],
        JSON.stringify([cancelled.body, released.body]),
      );
      const final = await orderNow(order.id);
      assert.equal(final.status, cancelled.status === 200 ? 'CANCELLED' : 'DELIVERED');
      if (final.status === 'CANCELLED') {
        expectedStock += 1;
        assert.equal(released.body.error?.code, 'order_not_deliverable');
      } else assert.equal(cancelled.body.error?.code, 'invalid_transition');
      // Either way the vehicle ends up free.
      await waitFor(async () => !(await activeOrders()).includes(order.id), { what: 'the vehicle free' });
    }
    await waitFor(async () => (await stockOf(product)) === expectedStock, { what: `stock ${expectedStock}` });
  });

  it('50 orders at once, half cancelled at random moments: stock exact, no cancelled order holds or waits for a vehicle', async () => {
    const products = [await newProduct(500), await newProduct(500)];
    const cities = Array.from({ length: 5 }, () => `Mixcity ${uniqueId()}`);
    for (const city of cities)
      for (let v = 0; v < 3; v++) await register(`M-${uniqueId().toUpperCase()}`, city);
    const plans = Array.from({ length: 50 }, (_, i) => ({
      city: cities[i % cities.length]!,
      product: products[i % 2]!,
      quantity: 1 + (i % 4),
      cancelAfterMs: i % 2 === 0 ? Math.floor(Math.random() * 400) : undefined,
    }));
    const outcomes = await Promise.all(
      plans.map(async (plan) => {
        const order = await place(plan.city, plan.product, plan.quantity);
        if (plan.cancelAfterMs === undefined) return { plan, order, cancelled: false };
        await new Promise((r) => setTimeout(r, plan.cancelAfterMs));
        const res = await cancel(order);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return { plan, order, cancelled: true };
      }),
    );
    const cancelledIds = outcomes.filter((o) => o.cancelled).map((o) => o.order.id);
    const live = outcomes.filter((o) => !o.cancelled);
    for (const { order } of live)
      await orderWhen(
        order.id,
        (o) => o.status === 'DISPATCHED' || o.status === 'CONFIRMED',
        'live order confirmed',
      );
    for (const product of products) {
      const held = live
        .filter((o) => o.plan.product === product)
        .reduce((sum, o) => sum + o.plan.quantity, 0);
      await waitFor(async () => (await stockOf(product)) === 500 - held, {
        what: `stock of ${product} = ${500 - held}`,
      });
    }
    await waitFor(
      async () => {
        const [active, waiting] = [await activeOrders(), await waitingOrders()];
        return !cancelledIds.some((id) => active.includes(id) || waiting.includes(id));
      },
      { what: 'no cancelled order on a vehicle or in a queue' },
    );
    // A second return would come from an event inventory-service handles (an order.cancelled
    // sent twice, an order.created arriving after its cancel). Once every order-service event is
    // on the broker and inventory-service has committed all of them, each one had its effect.
    await waitFor(async () => (await orderDb('outbox').whereNull('published_at').first()) === undefined, {
      what: 'order-service outbox published',
    });
    await waitForConsumed(system, 'inventory-service', ['order.created', 'order.cancelled']);
    for (const product of products) {
      const held = live
        .filter((o) => o.plan.product === product)
        .reduce((sum, o) => sum + o.plan.quantity, 0);
      assert.equal(await stockOf(product), 500 - held, 'nothing returned twice');
    }
    for (const id of cancelledIds) assert.equal((await orderNow(id)).status, 'CANCELLED');
  });
});
