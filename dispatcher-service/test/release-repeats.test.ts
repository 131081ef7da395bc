import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pruneTable, topicName } from '@delivery/common';
import { call, envelope, waitFor, type ApiResponse, type ErrorBody } from '@delivery/common/testing';
import {
  assignments,
  buildConfirmed,
  dispatcherWithStub,
  linesWith,
  lockKey,
  newCity,
  publishConfirmed,
  registerVehicle,
  vehicleNo,
  waitingOrderIds,
  type StubbedDispatcher,
} from './support.js';
import { KEY_RETENTION_MS, releaseRequestsRule } from '../src/dispatch/release-requests.js';

interface Released {
  vehicle_number: string;
  orderId: number;
  orderNumber: string;
  status: string;
}

/** One vehicle carrying order A, with orders B and C waiting behind it in its city. */
async function vehicleWithQueue(env: StubbedDispatcher) {
  const city = newCity();
  const vehicle = vehicleNo();
  assert.equal((await registerVehicle(env.d.url, vehicle, city)).status, 201);
  const [a, b, c] = [buildConfirmed({ city }), buildConfirmed({ city }), buildConfirmed({ city })];
  await publishConfirmed(env.d.rt, a!);
  await waitFor(async () => (await activeOrder(env, vehicle)) === a!.data.orderId, { what: 'A allocated' });
  // One at a time: events of different orders travel in different partitions, in any order.
  for (const order of [b!, c!]) {
    await publishConfirmed(env.d.rt, order);
    await waitFor(async () => (await waitingOrderIds(env.d.rt)).includes(order.data.orderId), {
      what: `${order.data.orderNumber} waiting`,
    });
  }
  return { city, vehicle, a: a!.data, b: b!.data, c: c!.data };
}

/** Waits until the vehicle carries the order; on a timeout, shows what the dispatcher logged. */
async function waitForRider(env: StubbedDispatcher, vehicle: string, orderId: number): Promise<void> {
  try {
    await waitFor(async () => (await activeOrder(env, vehicle)) === orderId, {
      what: `order ${orderId} on ${vehicle}`,
    });
  } catch (err) {
    const notable = env.d.rt.lines.filter(
      (l) => l.level === 'warn' || l.level === 'error' || String(l.msg).includes('ORD-'),
    );
    console.log(JSON.stringify(notable.slice(-40).map((l) => [l.level, l.msg, l.err])));
    throw err;
  }
}

async function activeOrder(env: StubbedDispatcher, vehicle: string): Promise<number | undefined> {
  return (await assignments(env.d.rt, { status: 'ACTIVE' })).find((a) => a.vehicle_number === vehicle)
    ?.order_id;
}

function releaseCall<T = Released>(
  env: StubbedDispatcher,
  path: string,
  { headers = {}, body }: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<ApiResponse<T>> {
  return call<T>('PATCH', `${env.d.url}/dispatch-locations/${path}`, body, headers);
}

const deliveriesOf = (env: StubbedDispatcher, orderId: number) =>
  env.stub.deliveries.filter((d) => d.orderId === orderId).length;

describe('repeated releases', () => {
  const env = dispatcherWithStub();

  /** The design's route form, or the assignment example's with the city. */
  const releasePath = (form: 'short' | 'city', vehicle: string, city: string) =>
    form === 'short' ? `${vehicle}/release` : `${vehicle}/${encodeURIComponent(city)}/release`;

  for (const form of ['short', 'city'] as const) {
    it(`10 simultaneous releases without key or precondition (${form} form) deliver only A: B takes the vehicle, C still waits`, async () => {
      const { city, vehicle, a, b, c } = await vehicleWithQueue(env);
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => releaseCall(env, releasePath(form, vehicle, city))),
      );

      for (const res of answers) {
        assert.ok(res.status === 200 || res.status === 409, `status ${res.status}`);
        if (res.status === 200) assert.equal(res.body.orderId, a.orderId, 'every 200 names A');
      }
      assert.ok(answers.some((r) => r.status === 200));
      await waitForRider(env, vehicle, b.orderId);
      assert.equal(deliveriesOf(env, b.orderId), 0, 'B was never delivered');
      assert.deepEqual(
        (await assignments(env.d.rt))
          .filter((x) => [a.orderId, b.orderId].includes(x.order_id))
          .map((x) => [x.order_id, x.status]),
        [
          [a.orderId, 'RELEASED'],
          [b.orderId, 'ACTIVE'],
        ],
      );
      assert.ok((await waitingOrderIds(env.d.rt)).includes(c.orderId), 'C still waits');
      assert.equal(
        linesWith(env.d.rt, `Vehicle released from order ${a.orderNumber}`).length,
        1,
        'logged once',
      );
      assert.equal(await env.d.redis.get(lockKey(env.redisPrefix, vehicle)), String(b.orderId));
    });

    it(`10 simultaneous releases with one Idempotency-Key (${form} form) release once and answer alike, also to a repeat once the answer is kept`, async () => {
      const { city, vehicle, a, b } = await vehicleWithQueue(env);
      const key = `release-${vehicle}`;
      const path = releasePath(form, vehicle, city);
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => releaseCall(env, path, { headers: { 'idempotency-key': key } })),
      );
      assert.deepEqual(
        new Set(answers.map((r) => JSON.stringify([r.status, r.body]))).size,
        1,
        'identical answers',
      );
      assert.equal(answers[0]!.status, 200);
      assert.equal(answers[0]!.body.orderId, a.orderId);
      assert.equal(deliveriesOf(env, a.orderId), 1, 'order-service was told once');
      await waitForRider(env, vehicle, b.orderId);

      // The repeat comes after the first request is over and its answer stored, so it is answered
      // from the table (not by joining a request in flight): the kept answer is the state to see.
      await waitFor(
        async () =>
          (await env.d.rt
            .db('release_requests')
            .where({ idempotency_key: key })
            .whereNotNull('status_code')
            .first()) !== undefined,
        { what: 'the answer kept' },
      );
      const later = await releaseCall(env, path, { headers: { 'idempotency-key': key } });
      assert.equal(later.status, 200);
      assert.equal(later.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(later.body, answers[0]!.body);
      assert.equal(await activeOrder(env, vehicle), b.orderId, 'B still rides');
      assert.equal(deliveriesOf(env, b.orderId), 0);
      assert.equal(linesWith(env.d.rt, `Vehicle released from order ${a.orderNumber}`).length, 1);
    });
  }

  it('the same Idempotency-Key for another vehicle is refused with 422 and releases nothing', async () => {
    const first = await vehicleWithQueue(env);
    const second = await vehicleWithQueue(env);
    const key = `reuse-${first.vehicle}`;
    assert.equal(
      (await releaseCall(env, `${first.vehicle}/release`, { headers: { 'idempotency-key': key } })).status,
      200,
    );
    const res = await releaseCall<ErrorBody>(env, `${second.vehicle}/release`, {
      headers: { 'idempotency-key': key },
    });
    assert.equal(res.status, 422);
    assert.equal(res.body.error.code, 'idempotency_key_reused');
    assert.equal(await activeOrder(env, second.vehicle), second.a.orderId);
  });

  it('a release that failed (order-service down: 502) keeps no answer: a retry with the same key completes it', async () => {
    const { vehicle, a, b } = await vehicleWithQueue(env);
    const key = `retry-${vehicle}`;
    env.stub.answer(503, 503, 503);
    const failed = await releaseCall<ErrorBody>(env, `${vehicle}/release`, {
      headers: { 'idempotency-key': key },
    });
    assert.equal(failed.status, 502);
    assert.equal(await activeOrder(env, vehicle), a.orderId, 'nothing changed');
    const retried = await releaseCall(env, `${vehicle}/release`, { headers: { 'idempotency-key': key } });
    assert.equal(retried.status, 200);
    assert.equal(retried.body.orderId, a.orderId);
    await waitForRider(env, vehicle, b.orderId);
  });

  it('answers kept longer than the retention are pruned, younger ones stay', async () => {
    const db = env.d.rt.db;
    const old = `old-${vehicleNo()}`;
    const young = `young-${vehicleNo()}`;
    await db('release_requests').insert([
      {
        idempotency_key: old,
        fingerprint: 'f',
        status_code: 200,
        response: '{}',
        created_at: new Date(Date.now() - 2 * KEY_RETENTION_MS),
      },
      { idempotency_key: young, fingerprint: 'f', status_code: 200, response: '{}' },
    ]);
    assert.ok((await pruneTable(db, releaseRequestsRule)) >= 1);
    const left = (await db('release_requests')
      .whereIn('idempotency_key', [old, young])
      .pluck('idempotency_key')) as string[];
    assert.deepEqual(left, [young]);
  });

  for (const form of ['short', 'city'] as const) {
    it(`naming A after B took the vehicle (${form} route form) answers 409 assignment_changed, by body and by If-Match`, async () => {
      const { city, vehicle, a, b } = await vehicleWithQueue(env);
      const path = releasePath(form, vehicle, city);
      const first = await releaseCall(env, path, { body: { orderId: a.orderId } });
      assert.equal(first.status, 200);
      assert.equal(first.body.orderId, a.orderId);
      await waitFor(async () => (await activeOrder(env, vehicle)) === b.orderId, {
        what: 'B on the vehicle',
      });

      const byBody = await releaseCall<ErrorBody>(env, path, { body: { orderId: a.orderId } });
      assert.equal(byBody.status, 409);
      assert.equal(byBody.body.error.code, 'assignment_changed');
      const byTag = await releaseCall<ErrorBody>(env, path, {
        headers: { 'if-match': `"order-${a.orderId}"` },
      });
      assert.equal(byTag.status, 409);
      assert.equal(byTag.body.error.code, 'assignment_changed');
      assert.equal(await activeOrder(env, vehicle), b.orderId, 'B still rides');
      assert.equal(deliveriesOf(env, b.orderId), 0);
    });
  }

  it("If-Match on the ETag of the vehicle's current assignment releases it", async () => {
    const { vehicle, a } = await vehicleWithQueue(env);
    const current = await call<{ orderId: number }>(
      'GET',
      `${env.d.url}/dispatch-locations/${vehicle}/assignment`,
    );
    assert.equal(current.status, 200);
    const etag = current.headers.get('etag');
    assert.equal(etag, `"order-${a.orderId}"`);
    assert.equal(current.body.orderId, a.orderId);
    const res = await releaseCall(env, `${vehicle}/release`, { headers: { 'if-match': etag! } });
    assert.equal(res.status, 200);
    assert.equal(res.body.orderId, a.orderId);
  });

  it('a release of a vehicle that was free when it arrived never delivers the order allocated meanwhile', async () => {
    const city = newCity();
    const vehicle = vehicleNo();
    assert.equal((await registerVehicle(env.d.url, vehicle, city)).status, 201);
    // A malformed precondition is a 400 and changes nothing.
    const bad = await releaseCall<ErrorBody>(env, `${vehicle}/release`, {
      headers: { 'if-match': 'order-1' },
    });
    assert.equal(bad.status, 400);
    const badKey = await releaseCall<ErrorBody>(env, `${vehicle}/release`, {
      headers: { 'idempotency-key': 'x'.repeat(256) },
    });
    assert.equal(badKey.status, 400);
    const badBody = await releaseCall<ErrorBody>(env, `${vehicle}/release`, { body: { orderId: 'A' } });
    assert.equal(badBody.status, 400);
    const free = await releaseCall<ErrorBody>(env, `${vehicle}/release`);
    assert.equal(free.status, 409);
    assert.equal(free.body.error.code, 'vehicle_not_allocated');
  });
});

describe('order.delivered and order.cancelled reach the dispatcher', () => {
  const env = dispatcherWithStub();

  async function publishFinished(
    type: 'order.delivered' | 'order.cancelled',
    order: { orderId: number; orderNumber: string; city: string },
    correlationId = `req-${type}-${order.orderId}`,
  ) {
    const e = envelope(
      type,
      { orderId: order.orderId, orderNumber: order.orderNumber, city: order.city },
      { correlationId },
    );
    await env.d.rt.producer.send({
      topic: topicName(env.d.rt.config.KAFKA_TOPIC_PREFIX, type),
      acks: -1,
      messages: [{ key: String(order.orderId), value: JSON.stringify(e) }],
    });
  }

  it('a waiting order delivered by hand leaves the queue: the next vehicle goes to the live order behind it', async () => {
    const city = newCity();
    const handDelivered = buildConfirmed({ city });
    const live = buildConfirmed({ city });
    await publishConfirmed(env.d.rt, handDelivered, live);
    await waitFor(async () => (await waitingOrderIds(env.d.rt)).includes(live.data.orderId), {
      what: 'both waiting',
    });
    await publishFinished('order.delivered', handDelivered.data);
    await waitFor(async () => !(await waitingOrderIds(env.d.rt)).includes(handDelivered.data.orderId), {
      what: 'the delivered order off the queue',
    });
    const vehicle = vehicleNo();
    assert.equal((await registerVehicle(env.d.url, vehicle, city)).status, 201);
    await waitFor(async () => (await activeOrder(env, vehicle)) === live.data.orderId, {
      what: 'the live order allocated',
    });
    assert.ok(!(await assignments(env.d.rt)).some((x) => x.order_id === handDelivered.data.orderId));
  });

  it('a dispatched order delivered by hand frees its vehicle for the oldest waiting order, once, even when the event comes twice', async () => {
    const city = newCity();
    const vehicle = vehicleNo();
    assert.equal((await registerVehicle(env.d.url, vehicle, city)).status, 201);
    const [a, b] = [buildConfirmed({ city }), buildConfirmed({ city })];
    await publishConfirmed(env.d.rt, a);
    await waitFor(async () => (await activeOrder(env, vehicle)) === a.data.orderId, { what: 'A allocated' });
    await publishConfirmed(env.d.rt, b);
    await waitFor(async () => (await waitingOrderIds(env.d.rt)).includes(b.data.orderId), {
      what: 'B waiting',
    });

    await publishFinished('order.delivered', a.data, 'req-by-hand');
    await waitFor(async () => (await activeOrder(env, vehicle)) === b.data.orderId, {
      what: 'B on the vehicle',
    });
    assert.equal(await env.d.redis.get(lockKey(env.redisPrefix, vehicle)), String(b.data.orderId));
    const freed = linesWith(env.d.rt, `Vehicle released from order ${a.data.orderNumber}`);
    assert.equal(freed.length, 1);
    assert.equal(freed[0]!.correlationId, 'req-by-hand');

    // The same delivery again (a redelivery) must not touch B, which now rides the vehicle.
    await publishFinished('order.delivered', a.data, 'req-by-hand');
    const c = buildConfirmed({ city });
    await publishConfirmed(env.d.rt, c);
    await waitFor(async () => (await waitingOrderIds(env.d.rt)).includes(c.data.orderId), {
      what: 'C waiting behind B',
    });
    assert.equal(await activeOrder(env, vehicle), b.data.orderId);
    assert.equal(linesWith(env.d.rt, `Vehicle released from order ${a.data.orderNumber}`).length, 1);
  });

  it('an order.confirmed that comes after the order was delivered or cancelled never queues nor takes a vehicle', async () => {
    const city = newCity();
    const vehicle = vehicleNo();
    assert.equal((await registerVehicle(env.d.url, vehicle, city)).status, 201);
    const delivered = buildConfirmed({ city });
    const cancelled = buildConfirmed({ city });
    await publishFinished('order.delivered', delivered.data);
    await publishFinished('order.cancelled', cancelled.data);
    await waitFor(
      async () =>
        (
          await env.d.rt
            .db('finished_orders')
            .whereIn('order_id', [delivered.data.orderId, cancelled.data.orderId])
        ).length === 2,
      {
        what: 'both recorded as finished',
      },
    );
    const live = buildConfirmed({ city });
    await publishConfirmed(env.d.rt, delivered, cancelled, live);
    await waitFor(async () => (await activeOrder(env, vehicle)) === live.data.orderId, {
      what: 'the live order allocated',
    });
    const ids = [delivered.data.orderId, cancelled.data.orderId];
    assert.ok(!(await assignments(env.d.rt)).some((x) => ids.includes(x.order_id)));
    assert.ok(!(await waitingOrderIds(env.d.rt)).some((id) => ids.includes(id)));
  });
});
