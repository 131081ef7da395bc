import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@delivery/common/testing';
import { ensureCityLock, lockCities } from '../src/dispatch/city-locks-repository.js';
import { createLockReconciler } from '../src/dispatch/lock-reconciler.js';
import {
  assignments,
  buildConfirmed,
  deleteKeys,
  linesWith,
  lockKey,
  newCity,
  publishConfirmed,
  registerVehicle,
  vehicleNo,
  waitingOrderIds,
  dispatcherWithStub,
} from './support.js';

describe('the lock reconciler', () => {
  // The periodic pass is far away: each test runs a pass itself, so nothing races the arrangement.
  const env = dispatcherWithStub({ reconcileIntervalMs: 60_000 });
  const lockOf = (vehicle: string) => env.d.redis.get(lockKey(env.redisPrefix, vehicle));

  /** A city whose vehicles all carry an order. */
  async function busyCity(vehicles: number) {
    const city = newCity();
    const numbers = Array.from({ length: vehicles }, vehicleNo);
    for (const v of numbers) await registerVehicle(env.d.url, v, city);
    const orders = numbers.map(() => buildConfirmed({ city }));
    await publishConfirmed(env.d.rt, ...orders);
    const ids = orders.map((o) => o.data.orderId);
    const rows = await waitFor(
      async () => {
        const active = (await assignments(env.d.rt, { status: 'ACTIVE' })).filter((a) =>
          ids.includes(a.order_id),
        );
        return active.length === vehicles && active;
      },
      { what: 'every vehicle allocated' },
    );
    return { city, rows };
  }

  it('when the locks vanished (Redis flushed), a pass re-creates them with the order ids and a new order gets no busy vehicle', async () => {
    const { city, rows } = await busyCity(2);
    assert.ok((await deleteKeys(env.d.redis, env.redisPrefix)) >= 2);
    for (const r of rows) assert.equal(await lockOf(r.vehicle_number), null);

    const report = await env.d.parts.reconciler.reconcile();

    assert.ok(report.restored >= 2, `restored ${report.restored}`);
    for (const r of rows) assert.equal(await lockOf(r.vehicle_number), String(r.order_id));
    const late = buildConfirmed({ city });
    await publishConfirmed(env.d.rt, late);
    await waitFor(
      () => linesWith(env.d.rt, 'All vehicles occupied').some((l) => l.orderNumber === late.data.orderNumber),
      {
        what: 'All vehicles occupied for the new order',
      },
    );
    assert.deepEqual(await waitingOrderIds(env.d.rt, city.toLowerCase()), [late.data.orderId]);
    const active = (await assignments(env.d.rt, { status: 'ACTIVE' })).filter(
      (a) => a.city_key === city.toLowerCase(),
    );
    assert.deepEqual(active.map((a) => a.order_id).sort(), rows.map((r) => r.order_id).sort());
  });

  it('a lock with no active assignment is removed, and the order waiting for that vehicle is then served', async () => {
    const city = newCity();
    const waiting = buildConfirmed({ city });
    await publishConfirmed(env.d.rt, waiting);
    await waitFor(
      () => linesWith(env.d.rt, `Cannot find vehicle for order ${waiting.data.orderNumber}`).length === 1,
      {
        what: 'the order waits',
      },
    );
    const vehicle = vehicleNo();
    // Left by a crashed release, long enough ago that it cannot be an allocation in flight.
    await env.d.redis.set(lockKey(env.redisPrefix, vehicle), '999999', {
      expiration: { type: 'PX', value: 600_000 },
    });
    assert.equal((await registerVehicle(env.d.url, vehicle, city)).status, 201);
    assert.deepEqual(
      await waitingOrderIds(env.d.rt, city.toLowerCase()),
      [waiting.data.orderId],
      'the stray lock hid the vehicle',
    );

    const report = await env.d.parts.reconciler.reconcile();

    assert.ok(report.removed >= 1 && report.allocated >= 1, JSON.stringify(report));
    assert.equal(await lockOf(vehicle), String(waiting.data.orderId));
    assert.deepEqual(await waitingOrderIds(env.d.rt, city.toLowerCase()), []);
    assert.equal(linesWith(env.d.rt, `Vehicle allocated for order ${waiting.data.orderNumber}`).length, 1);
  });

  it('a lock taken moments ago is left alone while its city has an allocation in flight', async () => {
    const city = newCity();
    const vehicle = vehicleNo();
    assert.equal((await registerVehicle(env.d.url, vehicle, city)).status, 201);
    await env.d.redis.set(lockKey(env.redisPrefix, vehicle), '888888', {
      expiration: { type: 'PX', value: env.d.settings.VEHICLE_LOCK_TTL_MS },
    });
    // An allocation holds its city's row lock from SET NX until it commits.
    await ensureCityLock(env.d.rt.db, city.toLowerCase());
    await env.d.rt.db.transaction(async (trx) => {
      await lockCities(trx, [city.toLowerCase()]);
      await env.d.parts.reconciler.reconcile();
    });
    assert.equal(await lockOf(vehicle), '888888');
  });

  it('a lock taken moments ago by an allocation that died (no assignment, no allocation in flight) is removed at once', async () => {
    const city = newCity();
    const vehicle = vehicleNo();
    assert.equal((await registerVehicle(env.d.url, vehicle, city)).status, 201);
    // What an instance SIGKILLed between SET NX and COMMIT leaves: a full-TTL lock for an order
    // whose assignment was rolled back with the connection.
    await env.d.redis.set(lockKey(env.redisPrefix, vehicle), '777777', {
      expiration: { type: 'PX', value: env.d.settings.VEHICLE_LOCK_TTL_MS },
    });

    const report = await env.d.parts.reconciler.reconcile();

    assert.ok(report.removed >= 1, JSON.stringify(report));
    assert.equal(await lockOf(vehicle), null);
  });

  it('after a crash between a release and the re-allocation, a pass gives the vehicle to the oldest waiting order', async () => {
    const { city, rows } = await busyCity(1);
    const pair = [buildConfirmed({ city }), buildConfirmed({ city })];
    await publishConfirmed(env.d.rt, ...pair);
    const occupiedFor = (n: string) =>
      linesWith(env.d.rt, 'All vehicles occupied').some((l) => l.orderNumber === n);
    await waitFor(() => pair.every((o) => occupiedFor(o.data.orderNumber)), { what: 'both orders handled' });
    // Two partitions may deliver them in either order: the queue says which waited longer.
    const [oldest, newer] = await waitingOrderIds(env.d.rt, city.toLowerCase());
    assert.ok(oldest !== undefined && newer !== undefined, 'two orders wait');
    // What a release leaves behind when the process dies right after freeing the vehicle.
    await env.d.rt.db('assignments').where({ order_id: rows[0]!.order_id }).update({ status: 'RELEASED' });
    await env.d.redis.del(lockKey(env.redisPrefix, rows[0]!.vehicle_number));

    const report = await env.d.parts.reconciler.reconcile();

    assert.ok(report.allocated >= 1, JSON.stringify(report));
    assert.equal(await lockOf(rows[0]!.vehicle_number), String(oldest));
    assert.deepEqual(await waitingOrderIds(env.d.rt, city.toLowerCase()), [newer]);
  });

  it('as a worker it runs at start and then every interval', async () => {
    const { rows } = await busyCity(1);
    await deleteKeys(env.d.redis, env.redisPrefix);
    const reconciler = createLockReconciler(env.d.parts.dispatch, {
      intervalMs: 200,
      logger: env.d.rt.logger,
    });
    reconciler.start();
    try {
      await waitFor(async () => (await lockOf(rows[0]!.vehicle_number)) === String(rows[0]!.order_id), {
        what: 'the lock re-created by the start-up pass',
      });
      await deleteKeys(env.d.redis, env.redisPrefix);
      await waitFor(async () => (await lockOf(rows[0]!.vehicle_number)) === String(rows[0]!.order_id), {
        what: 'the lock re-created by a periodic pass',
      });
    } finally {
      await reconciler.stop();
    }
  });

  it('started while Redis is still connecting, it logs no failure, and runs its pass once Redis is ready', async () => {
    const { rows } = await busyCity(1);
    await deleteKeys(env.d.redis, env.redisPrefix);
    let connected = false;
    let asked = 0;
    const reconciler = createLockReconciler(env.d.parts.dispatch, {
      intervalMs: 60_000,
      logger: env.d.rt.logger,
      redisReady: () => {
        asked += 1;
        return connected;
      },
    });
    const failedBefore = linesWith(env.d.rt, 'lock reconciliation failed; retrying soon').length;
    reconciler.start();
    try {
      await waitFor(() => asked >= 3, { what: 'the reconciler asking for Redis three times' });
      assert.equal(await lockOf(rows[0]!.vehicle_number), null, 'no pass while Redis is not ready');
      connected = true;
      await waitFor(async () => (await lockOf(rows[0]!.vehicle_number)) === String(rows[0]!.order_id), {
        what: 'the lock re-created as soon as Redis is ready',
      });
      assert.equal(linesWith(env.d.rt, 'lock reconciliation failed; retrying soon').length, failedBefore);
    } finally {
      await reconciler.stop();
    }
  });
});
