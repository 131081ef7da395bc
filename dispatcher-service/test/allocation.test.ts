import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { envelopeSchema, topicName, type Envelope } from '@delivery/common';
import { call, readTopic, uniqueId, waitFor } from '@delivery/common/testing';
import {
  assignments,
  buildConfirmed,
  consumedWith,
  linesWith,
  lockKey,
  newCity,
  publishConfirmed,
  registerVehicle,
  release,
  vehicleNo,
  waitingOrderIds,
  dispatcherWithStub,
} from './support.js';

/** The event as a producer that ignores the shared schema would send it: only the city differs. */
const withCity = (event: Envelope<'order.confirmed'>, city: string): Envelope<'order.confirmed'> => ({
  ...event,
  data: { ...event.data, city },
});

describe('allocation on order.confirmed', () => {
  const env = dispatcherWithStub();

  const assignmentOf = async (orderId: number) =>
    (await assignments(env.d.rt)).find((a) => a.order_id === orderId);

  it('when the city has no vehicle, logs "Cannot find vehicle for order …"; a registration then allocates it', async () => {
    const city = newCity();
    const order = buildConfirmed({ city });
    const msg = `Cannot find vehicle for order ${order.data.orderNumber}`;
    await publishConfirmed(env.d.rt, order);
    const line = await waitFor(() => linesWith(env.d.rt, msg)[0], { what: msg });
    assert.equal(line.orderNumber, order.data.orderNumber);
    assert.equal(line.city, city);
    assert.deepEqual(await waitingOrderIds(env.d.rt, city.toLowerCase()), [order.data.orderId]);

    const vehicle = vehicleNo();
    assert.equal((await registerVehicle(env.d.url, vehicle, city.toUpperCase())).status, 201);

    const allocated = linesWith(env.d.rt, `Vehicle allocated for order ${order.data.orderNumber}`);
    assert.equal(allocated.length, 1, 'the registration served the waiting order before answering');
    assert.equal(allocated[0]?.vehicle_number, vehicle);
    assert.equal(allocated[0]?.orderNumber, order.data.orderNumber);
    assert.equal(allocated[0]?.correlationId, order.correlationId, 'the late allocation keeps the flow id');
    assert.equal((await assignmentOf(order.data.orderId))?.vehicle_number, vehicle);
    assert.deepEqual(await waitingOrderIds(env.d.rt, city.toLowerCase()), []);
    assert.equal(await env.d.redis.get(lockKey(env.redisPrefix, vehicle)), String(order.data.orderId));
  });

  it('when a vehicle is free, logs "Vehicle allocated for order …" with vehicle_number and locks it with the order id', async () => {
    const city = newCity();
    const vehicle = vehicleNo();
    await registerVehicle(env.d.url, vehicle, city);
    const order = buildConfirmed({ city: `  ${city.toLowerCase()} ` });
    const msg = `Vehicle allocated for order ${order.data.orderNumber}`;
    await publishConfirmed(env.d.rt, order);
    const line = await waitFor(() => linesWith(env.d.rt, msg)[0], { what: msg });
    assert.equal(line.vehicle_number, vehicle);
    assert.equal(line.orderNumber, order.data.orderNumber);
    assert.equal(line.correlationId, order.correlationId);
    assert.equal(await env.d.redis.get(lockKey(env.redisPrefix, vehicle)), String(order.data.orderId));
    const ttl = await env.d.redis.pTTL(lockKey(env.redisPrefix, vehicle));
    assert.ok(ttl > 3_500_000 && ttl <= 3_600_000, `lock has the configured TTL (${ttl})`);
  });

  it('when every vehicle is busy, logs "All vehicles occupied"; a release gives the vehicle to the oldest waiting order', async () => {
    const city = newCity();
    const vehicle = vehicleNo();
    await registerVehicle(env.d.url, vehicle, city);
    const [first, second, third] = [1, 2, 3].map(() => buildConfirmed({ city }));
    await publishConfirmed(env.d.rt, first!);
    await waitFor(() => assignmentOf(first!.data.orderId), { what: 'first order allocated' });
    await publishConfirmed(env.d.rt, second!);
    const occupied = await waitFor(
      () =>
        linesWith(env.d.rt, 'All vehicles occupied').find((l) => l.orderNumber === second!.data.orderNumber),
      { what: 'All vehicles occupied for the second order' },
    );
    assert.equal(occupied.city, city);
    await publishConfirmed(env.d.rt, third!);
    await waitFor(
      () =>
        linesWith(env.d.rt, 'All vehicles occupied').some((l) => l.orderNumber === third!.data.orderNumber),
      {
        what: 'All vehicles occupied for the third order',
      },
    );
    assert.deepEqual(await waitingOrderIds(env.d.rt, city.toLowerCase()), [
      second!.data.orderId,
      third!.data.orderId,
    ]);

    const res = await release(env.d.url, `${vehicle.toLowerCase()}/release`);
    assert.equal(res.status, 200);

    assert.equal(
      (await assignmentOf(second!.data.orderId))?.vehicle_number,
      vehicle,
      'the oldest waiting order got it',
    );
    assert.equal(linesWith(env.d.rt, `Vehicle allocated for order ${second!.data.orderNumber}`).length, 1);
    assert.deepEqual(await waitingOrderIds(env.d.rt, city.toLowerCase()), [third!.data.orderId]);
    assert.equal(await env.d.redis.get(lockKey(env.redisPrefix, vehicle)), String(second!.data.orderId));
  });

  it('when the same order.confirmed arrives twice, the order gets one assignment and one order.dispatched', async () => {
    const city = newCity();
    await registerVehicle(env.d.url, vehicleNo(), city);
    await registerVehicle(env.d.url, vehicleNo(), city);
    const order = buildConfirmed({ city });
    await publishConfirmed(env.d.rt, order, order);
    await waitFor(
      () =>
        linesWith(env.d.rt, 'order has a vehicle already; event ignored').some(
          (l) => l.orderId === order.data.orderId,
        ),
      { what: 'the second delivery handled' },
    );
    const rows = (await assignments(env.d.rt)).filter((a) => a.order_id === order.data.orderId);
    assert.equal(rows.length, 1);
    assert.equal(linesWith(env.d.rt, `Vehicle allocated for order ${order.data.orderNumber}`).length, 1);
    const events = await env.d.rt
      .db('outbox')
      .where({ topic: 'order.dispatched', message_key: String(order.data.orderId) });
    assert.equal(events.length, 1);
    assert.deepEqual(await waitingOrderIds(env.d.rt, city.toLowerCase()), []);
  });

  it('the walk serves the least recently released vehicle first and skips one whose lock is held', async () => {
    const city = newCity();
    const [a, b, c] = [vehicleNo(), vehicleNo(), vehicleNo()];
    for (const v of [a, b, c]) await registerVehicle(env.d.url, v, city);
    const [o1, o2] = [buildConfirmed({ city }), buildConfirmed({ city })];
    await publishConfirmed(env.d.rt, o1);
    await waitFor(() => assignmentOf(o1.data.orderId), { what: 'o1 allocated' });
    await publishConfirmed(env.d.rt, o2);
    await waitFor(() => assignmentOf(o2.data.orderId), { what: 'o2 allocated' });
    assert.deepEqual(
      [
        (await assignmentOf(o1.data.orderId))?.vehicle_number,
        (await assignmentOf(o2.data.orderId))?.vehicle_number,
      ],
      [a, b],
    );
    // Released b before a: a is now the most recently released, c was never released.
    assert.equal((await release(env.d.url, `${b}/release`)).status, 200);
    assert.equal((await release(env.d.url, `${a}/release`)).status, 200);
    // c would be first (never released), but a foreign lock holds it: the walk goes on to b.
    await env.d.redis.set(lockKey(env.redisPrefix, c), 'someone-else', {
      expiration: { type: 'PX', value: 60_000 },
    });
    const o3 = buildConfirmed({ city });
    await publishConfirmed(env.d.rt, o3);
    const got = await waitFor(() => assignmentOf(o3.data.orderId), { what: 'o3 allocated' });
    assert.equal(got.vehicle_number, b);
    assert.equal(
      await env.d.redis.get(lockKey(env.redisPrefix, c)),
      'someone-else',
      'the foreign lock is untouched',
    );
  });

  it('after an allocation, order.dispatched is on the topic with the §4 envelope and the flow correlation id', async () => {
    const city = newCity();
    const vehicle = vehicleNo();
    await registerVehicle(env.d.url, vehicle, city);
    const order = buildConfirmed({ city, correlationId: `req-dispatched-${uniqueId()}` });
    const prefix = env.d.rt.config.KAFKA_TOPIC_PREFIX;
    const reader = await readTopic(env.d.rt.kafka, prefix, topicName(prefix, 'order.dispatched'));
    try {
      await publishConfirmed(env.d.rt, order);
      const msg = await waitFor(() => reader.seen.find((m) => m.key === String(order.data.orderId)), {
        what: 'order.dispatched on the topic',
      });
      const envelope = envelopeSchema('order.dispatched').parse(JSON.parse(msg.value));
      assert.equal(envelope.type, 'order.dispatched');
      assert.equal(envelope.version, 1);
      assert.equal(envelope.correlationId, order.correlationId);
      assert.deepEqual(envelope.data, {
        orderId: order.data.orderId,
        orderNumber: order.data.orderNumber,
        vehicleNumber: vehicle,
        city,
      });
    } finally {
      await reader.stop();
    }
  });

  it('when an order cannot be stored (blank city), it goes to the DLQ and the other orders are still dispatched', async () => {
    const dlqBefore = await consumedWith(env.d.rt, 'dlq');
    const city = newCity();
    await registerVehicle(env.d.url, vehicleNo(), city);
    const blank = withCity(buildConfirmed({ city }), '   ');
    const good = buildConfirmed({ city });
    await publishConfirmed(env.d.rt, blank);
    await publishConfirmed(env.d.rt, good);
    await waitFor(async () => (await consumedWith(env.d.rt, 'dlq')) === dlqBefore + 1, {
      what: 'the blank-city order in the DLQ',
    });
    await waitFor(() => assignmentOf(good.data.orderId), { what: 'the good order allocated' });
    assert.equal(await assignmentOf(blank.data.orderId), undefined);
    assert.ok(
      !(await waitingOrderIds(env.d.rt)).includes(blank.data.orderId),
      'the blank-city order is not queued',
    );
  });

  it('when an order\'s city is over 100 characters once case-folded ("İ" × 60), it goes to the DLQ without a retry', async () => {
    const [dlqBefore, retriedBefore] = [
      await consumedWith(env.d.rt, 'dlq'),
      await consumedWith(env.d.rt, 'retried'),
    ];
    const city = newCity();
    await registerVehicle(env.d.url, vehicleNo(), city);
    const unstorable = withCity(buildConfirmed({ city }), 'İ'.repeat(60));
    const good = buildConfirmed({ city });
    await publishConfirmed(env.d.rt, unstorable);
    await publishConfirmed(env.d.rt, good);
    await waitFor(async () => (await consumedWith(env.d.rt, 'dlq')) === dlqBefore + 1, {
      what: 'the over-long city in the DLQ',
    });
    await waitFor(() => assignmentOf(good.data.orderId), { what: 'the good order allocated' });
    assert.equal(await consumedWith(env.d.rt, 'retried'), retriedBefore, 'never retried');
    assert.equal(await assignmentOf(unstorable.data.orderId), undefined);
    assert.ok(!(await waitingOrderIds(env.d.rt)).includes(unstorable.data.orderId), 'not queued');
  });

  it('counts allocations by city and waiting orders by city in /metrics', async () => {
    const { text } = await call('GET', `${env.d.url}/metrics`);
    assert.match(
      text,
      /dispatcher_allocations_total\{city="city [0-9a-f]+",service="dispatcher-service"\} 1/,
    );
    assert.match(text, /dispatcher_waiting_orders\{city="city [0-9a-f]+",service="dispatcher-service"\} 1/);
  });
});
