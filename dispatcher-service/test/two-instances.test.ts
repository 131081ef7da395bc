import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deleteTestTopics, testTopicPrefix, uniqueId, waitFor } from '@delivery/common/testing';
import {
  assignments,
  buildConfirmed,
  consumedWith,
  linesWith,
  lockKey,
  publishConfirmed,
  registerVehicle,
  release,
  startOrderStub,
  startTestDispatcher,
  testRedisPrefix,
  waitForGroup,
  waitingOrderIds,
  type OrderStub,
  type TestDispatcher,
} from './support.js';

describe('two dispatcher instances in one consumer group', () => {
  let stub: OrderStub;
  let a: TestDispatcher;
  let b: TestDispatcher;
  const redisPrefix = testRedisPrefix();
  const cities = [`Kandy ${uniqueId()}`, `Galle ${uniqueId()}`];
  const vehicles = new Map(
    cities.map((c) => [c, [1, 2, 3].map((i) => `${c.slice(0, 1)}-${uniqueId().toUpperCase()}-${i}`)]),
  );

  const topicPrefix = testTopicPrefix();

  before(async () => {
    stub = await startOrderStub();
    a = await startTestDispatcher({ orderServiceUrl: stub.url, redisPrefix, topicPrefix });
    b = await startTestDispatcher({
      orderServiceUrl: stub.url,
      redisPrefix,
      topicPrefix,
      database: a.rt.config.MYSQL_DATABASE,
    });
    // Both must own partitions before the orders arrive, or one instance would do all the work.
    await waitForGroup(a.rt, 2);
  });
  after(async () => {
    await b?.close();
    await a?.close();
    await stub?.stop();
    // A shared namespace is the test's to remove.
    await deleteTestTopics(topicPrefix);
  });

  const key = (city: string) => city.toLowerCase();
  const allLines = (msg: string) => [...linesWith(a.rt, msg), ...linesWith(b.rt, msg)];

  it('40 orders over 2 cities with 3 vehicles each: exactly 6 allocated, no vehicle twice, 34 waiting', async () => {
    for (const [city, numbers] of vehicles) for (const v of numbers) await registerVehicle(a.url, v, city);
    const orders = Array.from({ length: 40 }, (_, i) => buildConfirmed({ city: cities[i % 2]! }));
    await publishConfirmed(a.rt, ...orders);

    // Handled = queued, served and logged: counting rows alone could catch a drain half-way.
    await waitFor(
      async () =>
        (await consumedWith(a.rt, 'ok')) + (await consumedWith(b.rt, 'ok')) >= 40 &&
        (await assignments(a.rt)).length + (await waitingOrderIds(a.rt)).length === 40,
      { what: 'all 40 orders handled', timeoutMs: 30_000 },
    );
    const active = await assignments(a.rt, { status: 'ACTIVE' });
    assert.equal(active.length, 6);
    assert.equal(new Set(active.map((x) => x.vehicle_number)).size, 6, 'no vehicle twice');
    for (const city of cities) {
      assert.deepEqual(
        active
          .filter((x) => x.city_key === key(city))
          .map((x) => x.vehicle_number)
          .sort(),
        [...vehicles.get(city)!].sort(),
        `${city}: its own 3 vehicles`,
      );
      assert.equal((await waitingOrderIds(a.rt, key(city))).length, 17);
    }
    for (const x of active)
      assert.equal(await a.redis.get(lockKey(redisPrefix, x.vehicle_number)), String(x.order_id));
    assert.equal(allLines('All vehicles occupied').length, 34);
    const allocatedLines = [...a.rt.lines, ...b.rt.lines].filter((l) =>
      String(l.msg).startsWith('Vehicle allocated for order '),
    );
    assert.equal(allocatedLines.length, 6);
    const handledBy = (rt: TestDispatcher['rt']) =>
      rt.lines.filter(
        (l) => l.msg === 'All vehicles occupied' || String(l.msg).startsWith('Vehicle allocated'),
      ).length;
    assert.ok(handledBy(a.rt) > 0 && handledBy(b.rt) > 0, 'both instances consumed orders');
  });

  it('releasing all 6 over HTTP gives the vehicles to the 3 oldest waiting orders of each city', async () => {
    const queues = new Map<string, number[]>();
    for (const city of cities) queues.set(city, await waitingOrderIds(a.rt, key(city)));
    const carried = await assignments(a.rt, { status: 'ACTIVE' });

    // Concurrently, half through each instance: the city lock keeps the queues in order.
    const responses = await Promise.all(
      carried.map((x, i) => release((i % 2 === 0 ? a : b).url, `${x.vehicle_number}/release`)),
    );
    assert.deepEqual(
      responses.map((r) => r.status),
      [200, 200, 200, 200, 200, 200],
    );

    const active = await assignments(a.rt, { status: 'ACTIVE' });
    assert.equal(active.length, 6);
    assert.equal(new Set(active.map((x) => x.vehicle_number)).size, 6, 'no vehicle twice');
    for (const city of cities) {
      const queue = queues.get(city)!;
      const now = active
        .filter((x) => x.city_key === key(city))
        .map((x) => x.order_id)
        .sort((p, q) => p - q);
      assert.deepEqual(
        now,
        queue.slice(0, 3).sort((p, q) => p - q),
        `${city}: the 3 oldest waiting orders`,
      );
      assert.deepEqual(await waitingOrderIds(a.rt, key(city)), queue.slice(3));
    }
    for (const x of active)
      assert.equal(await a.redis.get(lockKey(redisPrefix, x.vehicle_number)), String(x.order_id));
    assert.deepEqual(
      stub.deliveries.map((p) => p.orderId).sort((p, q) => p - q),
      carried.map((x) => x.order_id).sort((p, q) => p - q),
      'order-service was told DELIVERED for each released order',
    );
  });
});
