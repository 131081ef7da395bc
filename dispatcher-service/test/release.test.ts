import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { call, waitFor, type ApiResponse, type ErrorBody } from '@delivery/common/testing';
import {
  assignments,
  buildConfirmed,
  linesWith,
  lockKey,
  newCity,
  publishConfirmed,
  registerVehicle,
  release,
  vehicleNo,
  dispatcherWithStub,
} from './support.js';

describe('PATCH /dispatch-locations/…/release', () => {
  const env = dispatcherWithStub();

  /** A registered vehicle carrying a freshly confirmed order. */
  async function allocatedVehicle(city = newCity()) {
    const vehicle = vehicleNo();
    assert.equal((await registerVehicle(env.d.url, vehicle, city)).status, 201);
    const order = buildConfirmed({ city });
    await publishConfirmed(env.d.rt, order);
    await waitFor(async () => (await assignments(env.d.rt)).some((a) => a.order_id === order.data.orderId), {
      what: 'the order allocated',
    });
    return { vehicle, city, order };
  }

  const statusOf = async (orderId: number) =>
    (await assignments(env.d.rt)).find((a) => a.order_id === orderId)?.status;

  it('with the city form of the assignment example (any case), delivers the order, frees the vehicle and answers 200', async () => {
    const { vehicle, city, order } = await allocatedVehicle();
    const res = await release(
      env.d.url,
      `${vehicle.toLowerCase()}/${encodeURIComponent(city.toLowerCase())}/release`,
      {
        'x-request-id': 'req-release-1',
      },
    );
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      vehicle_number: vehicle,
      city,
      orderId: order.data.orderId,
      orderNumber: order.data.orderNumber,
      status: 'DELIVERED',
    });
    assert.deepEqual(
      env.stub.deliveries
        .filter((p) => p.orderId === order.data.orderId)
        .map(({ correlationId, requestId }) => ({ correlationId, requestId })),
      [{ correlationId: 'req-release-1', requestId: 'req-release-1' }],
    );
    assert.equal(await statusOf(order.data.orderId), 'RELEASED');
    assert.equal(await env.d.redis.get(lockKey(env.redisPrefix, vehicle)), null, 'the lock is gone');
    const available = await call(
      'GET',
      `${env.d.url}/dispatch-locations/${encodeURIComponent(city)}?available=true`,
    );
    assert.deepEqual(available.body, [{ vehicle_number: vehicle, city }]);
  });

  it('releases arriving while order-service is answering go to it together and are closed together, each delivered once in its own flow', async () => {
    const allocated = await Promise.all(Array.from({ length: 8 }, () => allocatedVehicle()));
    const before = env.stub.requests;
    const closes: string[] = [];
    const count = (q: { sql: string }) => {
      if (/^\s*UPDATE assignments/.test(q.sql)) closes.push(q.sql);
    };
    env.d.rt.db.on('query', count);
    env.stub.delay(300);
    let results;
    try {
      results = await Promise.all(
        allocated.map(({ vehicle }, k) =>
          release(env.d.url, `${vehicle}/release`, { 'x-request-id': `req-together-${k}` }),
        ),
      );
    } finally {
      env.stub.delay(0);
      env.d.rt.db.off('query', count);
    }
    assert.deepEqual(
      results.map((r) => r.status),
      allocated.map(() => 200),
    );
    const requests = env.stub.requests - before;
    assert.ok(requests < allocated.length, `${requests} requests for ${allocated.length} releases`);
    // Those delivered by one answer arrive together: the first is closed at once, the others by one statement.
    assert.ok(
      closes.length <= 2 * requests,
      `${closes.length} UPDATEs closing ${allocated.length} assignments`,
    );
    assert.ok(
      closes.length < allocated.length,
      `${closes.length} UPDATEs closing ${allocated.length} assignments`,
    );
    allocated.forEach(({ order }, k) =>
      assert.deepEqual(
        env.stub.deliveries.filter((p) => p.orderId === order.data.orderId).map((p) => p.correlationId),
        [`req-together-${k}`],
      ),
    );
    for (const { order } of allocated) assert.equal(await statusOf(order.data.orderId), 'RELEASED');
  });

  it('when the vehicle is unknown, 404 vehicle_not_found and order-service is not called', async () => {
    const calls = env.stub.deliveries.length;
    const res = await release<ErrorBody>(env.d.url, 'NOPE-0000/release');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'vehicle_not_found');
    assert.equal(env.stub.deliveries.length, calls);
  });

  it("when the city is not the vehicle's, 404 vehicle_not_found and the vehicle stays allocated", async () => {
    const { vehicle, order } = await allocatedVehicle();
    const res = await release<ErrorBody>(env.d.url, `${vehicle}/Elsewhere/release`);
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'vehicle_not_found');
    assert.equal(await statusOf(order.data.orderId), 'ACTIVE');
  });

  it('when the vehicle has no order, 409 vehicle_not_allocated', async () => {
    const vehicle = vehicleNo();
    await registerVehicle(env.d.url, vehicle, newCity());
    const res = await release<ErrorBody>(env.d.url, `${vehicle}/release`);
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'vehicle_not_allocated');
  });

  it('when the vehicle was released already, a repeated release is 409 vehicle_not_allocated', async () => {
    const { vehicle } = await allocatedVehicle();
    assert.equal((await release(env.d.url, `${vehicle}/release`)).status, 200);
    const again = await release(env.d.url, `${vehicle}/release`);
    assert.equal(again.status, 409);
  });

  it('when order-service is down, 502 with the vehicle still allocated; once it is back the same call completes', async () => {
    const { vehicle, city, order } = await allocatedVehicle();
    await env.stub.stop();
    let res: ApiResponse<ErrorBody>;
    try {
      res = await release<ErrorBody>(env.d.url, `${vehicle}/${encodeURIComponent(city)}/release`);
    } finally {
      await env.stub.start();
    }
    assert.equal(res.status, 502);
    assert.equal(res.body.error.code, 'order_service_unavailable');
    assert.equal(await statusOf(order.data.orderId), 'ACTIVE');
    assert.equal(await env.d.redis.get(lockKey(env.redisPrefix, vehicle)), String(order.data.orderId));
    assert.equal(env.stub.deliveries.filter((p) => p.orderId === order.data.orderId).length, 0);

    const retry = await release(env.d.url, `${vehicle}/${encodeURIComponent(city)}/release`);
    assert.equal(retry.status, 200);
    assert.equal(env.stub.deliveries.filter((p) => p.orderId === order.data.orderId).length, 1);
    assert.equal(await statusOf(order.data.orderId), 'RELEASED');
    assert.equal(await env.d.redis.get(lockKey(env.redisPrefix, vehicle)), null);
  });

  it('when order-service answers 503 then 200, the client retries and the release succeeds', async () => {
    const { vehicle, order } = await allocatedVehicle();
    env.stub.answer(503);
    const res = await release(env.d.url, `${vehicle}/release`);
    assert.equal(res.status, 200);
    assert.equal(env.stub.deliveries.filter((p) => p.orderId === order.data.orderId).length, 2);
    assert.equal(await statusOf(order.data.orderId), 'RELEASED');
  });

  it('when order-service keeps answering 500, 502 after a few attempts and nothing changes', async () => {
    const { vehicle, order } = await allocatedVehicle();
    env.stub.answer(500, 500, 500);
    const res = await release(env.d.url, `${vehicle}/release`);
    assert.equal(res.status, 502);
    assert.equal(env.stub.deliveries.filter((p) => p.orderId === order.data.orderId).length, 3);
    assert.equal(await statusOf(order.data.orderId), 'ACTIVE');
  });

  it('when order-service refuses DELIVERED (409: the order was cancelled first), 409 order_not_deliverable and the vehicle keeps it until order.cancelled frees it', async () => {
    const { vehicle, order } = await allocatedVehicle();
    env.stub.answer(409);
    const res = await release<ErrorBody>(env.d.url, `${vehicle}/release`);
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'order_not_deliverable');
    assert.equal(await statusOf(order.data.orderId), 'ACTIVE');
    assert.equal(linesWith(env.d.rt, `Vehicle released from order ${order.data.orderNumber}`).length, 0);
  });

  it('when order-service does not know the order (404), 502 order_service_rejected and the vehicle stays allocated', async () => {
    const { vehicle, order } = await allocatedVehicle();
    env.stub.answer(404);
    const res = await release<ErrorBody>(env.d.url, `${vehicle}/release`);
    assert.equal(res.status, 502);
    assert.equal(res.body.error.code, 'order_service_rejected');
    assert.equal(await statusOf(order.data.orderId), 'ACTIVE');
  });

  it('when the vehicle number in the path is malformed, 400 validation_failed', async () => {
    const res = await release<ErrorBody>(env.d.url, `${encodeURIComponent('AB_12!')}/release`);
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'validation_failed');
  });
  it("releases in several cities at once: each city's waiting order gets that city's freed vehicle", async () => {
    const busy = await Promise.all([newCity(), newCity(), newCity()].map((city) => allocatedVehicle(city)));
    const next = busy.map(({ city }) => buildConfirmed({ city }));
    for (const order of next) await publishConfirmed(env.d.rt, order);
    const waiting = async () =>
      (await env.d.rt.db('waiting_orders').whereIn(
        'order_id',
        next.map((o) => o.data.orderId),
      )) as unknown[];
    await waitFor(async () => (await waiting()).length === 3, { what: 'the three orders waiting' });
    // Released together: the allocation rounds coalesce them, several cities in one transaction.
    const answers = await Promise.all(busy.map(({ vehicle }) => release(env.d.url, `${vehicle}/release`)));
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200],
    );
    await waitFor(async () => (await waiting()).length === 0, { what: 'nobody waiting' });
    const rows = await assignments(env.d.rt);
    for (const [i, order] of next.entries()) {
      const active = rows.filter((a) => a.order_id === order.data.orderId && a.status === 'ACTIVE');
      assert.equal(active.length, 1, `order ${i} has one active assignment`);
      assert.equal(active[0]!.vehicle_number, busy[i]!.vehicle, `order ${i} got its own city's vehicle`);
    }
  });
});
