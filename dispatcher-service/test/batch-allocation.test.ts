import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { cityKey, type Envelope } from '@delivery/common';
import { uniqueId, waitFor } from '@delivery/common/testing';
import { vehicleKey } from '../src/keys.js';
import { insertVehicle } from '../src/vehicles/vehicles-repository.js';
import {
  TEST_REDIS_URL,
  assignments,
  buildConfirmed,
  linesWith,
  lockKey,
  newCity,
  registerVehicle,
  vehicleNo,
  waitingOrderIds,
  dispatcherWithStub,
} from './support.js';

describe('order.confirmed a batch at a time', () => {
  const env = dispatcherWithStub();

  /** The consumer loop's call for one fetched batch, made directly so the batch is exactly this. */
  const handleBatch = (events: Envelope<'order.confirmed'>[]) =>
    env.d.parts.handlers[0]!.handleBatch!(events);

  /** A vehicle the database knows but no serve has run for yet (a registration cut short). */
  const addVehicleSilently = (vehicle: string, city: string) =>
    insertVehicle(env.d.rt.db, {
      vehicle_number: vehicle,
      vehicle_key: vehicleKey(vehicle),
      city,
      city_key: cityKey(city),
    });

  const dispatchedEvents = async (orderIds: number[]) =>
    (
      (await env.d.rt
        .db('outbox')
        .where({ topic: 'order.dispatched' })
        .whereIn(
          'message_key',
          orderIds.map((id) => String(id)),
        )) as { payload: string }[]
    ).map((r) => JSON.parse(r.payload) as Envelope<'order.dispatched'>);

  it('over two cities with fewer vehicles than orders, the oldest get the vehicles and the rest queue in order', async () => {
    const [a, b] = [newCity(), newCity()];
    const fleetA = [vehicleNo(), vehicleNo(), vehicleNo()];
    const fleetB = [vehicleNo(), vehicleNo()];
    // B has an order waiting from before; its vehicles arrived without serving it.
    const older = buildConfirmed({ city: b });
    await handleBatch([older]);
    assert.deepEqual(await waitingOrderIds(env.d.rt, cityKey(b)), [older.data.orderId]);
    for (const v of fleetA) assert.equal((await registerVehicle(env.d.url, v, a)).status, 201);
    for (const v of fleetB) await addVehicleSilently(v, b);

    const [a1, b1, a2, b2, a3, a4, b3] = [a, b, a, b, a, a, b].map((city) => buildConfirmed({ city }));
    await handleBatch([a1!, b1!, a2!, b2!, a3!, a4!, b3!]);

    const active = (await assignments(env.d.rt, { status: 'ACTIVE' })).filter((x) =>
      [cityKey(a), cityKey(b)].includes(x.city_key),
    );
    const vehicleOf = new Map(active.map((x) => [x.order_id, x.vehicle_number]));
    assert.deepEqual(
      [a1!, a2!, a3!].map((o) => vehicleOf.get(o.data.orderId)),
      fleetA,
      'A: the three oldest, each the least recently released vehicle left',
    );
    assert.deepEqual(
      [older, b1!].map((o) => vehicleOf.get(o.data.orderId)),
      fleetB,
      'B: the order that waited before the batch first, then the oldest of the batch',
    );
    assert.equal(active.length, 5);
    assert.deepEqual(await waitingOrderIds(env.d.rt, cityKey(a)), [a4!.data.orderId]);
    assert.deepEqual(await waitingOrderIds(env.d.rt, cityKey(b)), [b2!.data.orderId, b3!.data.orderId]);
    for (const x of active)
      assert.equal(await env.d.redis.get(lockKey(env.redisPrefix, x.vehicle_number)), String(x.order_id));

    // Every log line and event under its own order's flow.
    for (const o of [a1!, a2!, a3!, older, b1!]) {
      const lines = linesWith(env.d.rt, `Vehicle allocated for order ${o.data.orderNumber}`);
      assert.equal(lines.length, 1, o.data.orderNumber);
      assert.equal(lines[0]!.correlationId, o.correlationId);
    }
    for (const o of [a4!, b2!, b3!]) {
      const lines = linesWith(env.d.rt, 'All vehicles occupied').filter(
        (l) => l.orderNumber === o.data.orderNumber,
      );
      assert.equal(lines.length, 1, o.data.orderNumber);
      assert.equal(lines[0]!.correlationId, o.correlationId);
    }
    const events = await dispatchedEvents(active.map((x) => x.order_id));
    assert.equal(events.length, 5);
    const confirmed = new Map([a1!, a2!, a3!, older, b1!].map((o) => [o.data.orderId, o]));
    for (const e of events) {
      assert.equal(e.correlationId, confirmed.get(e.data.orderId)!.correlationId);
      assert.equal(e.data.vehicleNumber, vehicleOf.get(e.data.orderId));
    }

    // Handling the same batch again (a retry after a failure) changes nothing.
    await handleBatch([a1!, b1!, a2!, b2!, a3!, a4!, b3!]);
    assert.equal((await assignments(env.d.rt)).filter((x) => confirmed.has(x.order_id)).length, 5);
    assert.equal((await dispatchedEvents([...confirmed.keys()])).length, 5);
    assert.deepEqual(await waitingOrderIds(env.d.rt, cityKey(b)), [b2!.data.orderId, b3!.data.orderId]);
  });

  it('when one batch holds the same order.confirmed twice (and a second event for that order), the order gets one assignment', async () => {
    const city = newCity();
    for (const v of [vehicleNo(), vehicleNo()]) await registerVehicle(env.d.url, v, city);
    const order = buildConfirmed({ city });
    const again = buildConfirmed({ city, orderId: order.data.orderId });

    await handleBatch([order, order, again]);

    const rows = (await assignments(env.d.rt)).filter((x) => x.order_id === order.data.orderId);
    assert.equal(rows.length, 1);
    assert.equal((await dispatchedEvents([order.data.orderId])).length, 1);
    assert.equal(linesWith(env.d.rt, `Vehicle allocated for order ${order.data.orderNumber}`).length, 1);
    assert.equal(
      linesWith(env.d.rt, 'order has a vehicle already; event ignored').filter(
        (l) => l.orderId === order.data.orderId,
      ).length,
      2,
      'each repeat is reported as ignored',
    );
    assert.deepEqual(await waitingOrderIds(env.d.rt, cityKey(city)), []);
  });

  it('when a lock in the walk is refused, the older order still gets the vehicle and the newest waits', async () => {
    const city = newCity();
    const [v1, v2] = [vehicleNo(), vehicleNo()];
    for (const v of [v1, v2]) await registerVehicle(env.d.url, v, city);
    // v1 comes first in the walk, but a lock the database does not know of holds it.
    await env.d.redis.set(lockKey(env.redisPrefix, v1), 'someone-else', {
      expiration: { type: 'PX', value: 60_000 },
    });
    const [o1, o2] = [buildConfirmed({ city }), buildConfirmed({ city })];

    await handleBatch([o1, o2]);

    const rows = (await assignments(env.d.rt)).filter((x) => x.city_key === cityKey(city));
    assert.deepEqual(
      rows.map((x) => [x.order_id, x.vehicle_number]),
      [[o1.data.orderId, v2]],
    );
    assert.deepEqual(await waitingOrderIds(env.d.rt, cityKey(city)), [o2.data.orderId]);
    assert.equal(await env.d.redis.get(lockKey(env.redisPrefix, v2)), String(o1.data.orderId));
    assert.equal(await env.d.redis.get(lockKey(env.redisPrefix, v1)), 'someone-else');
  });

  it('when the final guard refuses the multi-row insert, the city is walked one order at a time and still served oldest first', async () => {
    const city = newCity();
    const [v1, v2] = [vehicleNo(), vehicleNo()];
    await registerVehicle(env.d.url, v1, city);
    const carried = buildConfirmed({ city });
    await handleBatch([carried]);
    await addVehicleSilently(v2, city);
    // A queue row for an order that has its vehicle: the batch pairs it with v2 and the
    // assignment insert is refused by the one-assignment-per-order index.
    await env.d.rt.db('waiting_orders').insert({
      order_id: carried.data.orderId,
      order_number: carried.data.orderNumber,
      city,
      city_key: cityKey(city),
      correlation_id: carried.correlationId,
    });
    const order = buildConfirmed({ city });

    await handleBatch([order]);

    const rows = (await assignments(env.d.rt)).filter((x) => x.city_key === cityKey(city));
    assert.deepEqual(
      rows.map((x) => [x.order_id, x.vehicle_number, x.status]),
      [
        [carried.data.orderId, v1, 'ACTIVE'],
        [order.data.orderId, v2, 'ACTIVE'],
      ],
    );
    assert.deepEqual(await waitingOrderIds(env.d.rt, cityKey(city)), []);
    assert.equal(await env.d.redis.get(lockKey(env.redisPrefix, v2)), String(order.data.orderId));
    assert.equal(await env.d.redis.get(lockKey(env.redisPrefix, v1)), String(carried.data.orderId));
  });

  it('when an older order waits and a new one arrives with one vehicle free, the older gets it and the new one waits behind it', async () => {
    const city = newCity();
    const older = buildConfirmed({ city });
    await handleBatch([older]);
    const vehicle = vehicleNo();
    await addVehicleSilently(vehicle, city);
    const arrival = buildConfirmed({ city });

    await handleBatch([arrival]);

    const rows = (await assignments(env.d.rt)).filter((x) => x.city_key === cityKey(city));
    assert.deepEqual(
      rows.map((x) => [x.order_id, x.vehicle_number]),
      [[older.data.orderId, vehicle]],
    );
    assert.deepEqual(await waitingOrderIds(env.d.rt, cityKey(city)), [arrival.data.orderId]);
    assert.equal(
      linesWith(env.d.rt, 'All vehicles occupied').filter((l) => l.orderNumber === arrival.data.orderNumber)
        .length,
      1,
    );
  });

  it('when an order allocated on arrival (never queued) is confirmed again, nothing changes', async () => {
    const city = newCity();
    const [v1, v2] = [vehicleNo(), vehicleNo()];
    for (const v of [v1, v2]) await registerVehicle(env.d.url, v, city);
    const order = buildConfirmed({ city });
    await handleBatch([order]);
    const before = await assignments(env.d.rt);

    await handleBatch([order]);
    await handleBatch([order, buildConfirmed({ city, orderId: order.data.orderId })]);

    assert.deepEqual(await assignments(env.d.rt), before);
    assert.deepEqual(
      before.filter((x) => x.order_id === order.data.orderId).map((x) => x.vehicle_number),
      [v1],
    );
    assert.deepEqual(await waitingOrderIds(env.d.rt, cityKey(city)), []);
    assert.equal((await dispatchedEvents([order.data.orderId])).length, 1);
    assert.equal(linesWith(env.d.rt, `Vehicle allocated for order ${order.data.orderNumber}`).length, 1);
    assert.equal(await env.d.redis.get(lockKey(env.redisPrefix, v2)), null, 'v2 was never locked');
  });

  it('when refused locks take the walk past its first page, the arrivals still go in event order and exactly the rest wait', async () => {
    const city = newCity();
    // 14 vehicles, the first 11 of the walk held by locks the database does not know of: the
    // first round reads 12 (4 arrivals + 8 spare) and serves one order, the second reads the
    // last two.
    const fleet = Array.from({ length: 14 }, () => vehicleNo());
    for (const v of fleet) await addVehicleSilently(v, city);
    for (const v of fleet.slice(0, 11))
      await env.d.redis.set(lockKey(env.redisPrefix, v), 'someone-else', {
        expiration: { type: 'PX', value: 60_000 },
      });
    const orders = [1, 2, 3, 4].map(() => buildConfirmed({ city }));

    await handleBatch(orders);

    const rows = (await assignments(env.d.rt)).filter((x) => x.city_key === cityKey(city));
    assert.deepEqual(
      rows.map((x) => [x.order_id, x.vehicle_number]),
      orders.slice(0, 3).map((o, i) => [o.data.orderId, fleet[11 + i]]),
    );
    assert.deepEqual(await waitingOrderIds(env.d.rt, cityKey(city)), [orders[3]!.data.orderId]);
    for (const v of fleet.slice(0, 11))
      assert.equal(await env.d.redis.get(lockKey(env.redisPrefix, v)), 'someone-else');

    // Again: nothing changes.
    await handleBatch(orders);
    assert.equal((await assignments(env.d.rt)).filter((x) => x.city_key === cityKey(city)).length, 3);
    assert.deepEqual(await waitingOrderIds(env.d.rt, cityKey(city)), [orders[3]!.data.orderId]);
  });

  it('in a city of 1,000 vehicles with 999 busy, an allocation costs one Redis command and a full city none', async () => {
    const city = `Crowded ${uniqueId()}`;
    const tag = `C${uniqueId().toUpperCase()}`;
    const fleet = Array.from({ length: 1_000 }, (_, i) => `${tag}-${i}`);
    await env.d.rt
      .db('vehicles')
      .insert(
        fleet.map((v) => ({ vehicle_number: v, vehicle_key: vehicleKey(v), city, city_key: cityKey(city) })),
      );
    const ids = (await env.d.rt
      .db('vehicles')
      .where({ city_key: cityKey(city) })
      .orderBy('id')
      .pluck('id')) as number[];
    // Every vehicle but the last carries an order, with its lock, as allocations leave them.
    const busy = ids.slice(0, -1).map((vehicle_id, i) => ({
      order_id: 5_000_000 + i,
      order_number: `ORD-B${i}`,
      vehicle_id,
      city_key: cityKey(city),
    }));
    await env.d.rt.db('assignments').insert(busy);
    await Promise.all(
      busy.map((x, i) =>
        env.d.redis.set(lockKey(env.redisPrefix, fleet[i]!), String(x.order_id), {
          expiration: { type: 'PX', value: 3_600_000 },
        }),
      ),
    );

    const monitor = createClient({ url: TEST_REDIS_URL });
    await monitor.connect();
    const seen: string[] = [];
    await monitor.monitor((line: string) => seen.push(line));
    /** The commands naming this city's locks, up to a marker sent last: MONITOR keeps their order. */
    const cityCommands = async () => {
      const marker = `${env.redisPrefix}marker-${uniqueId()}`;
      await env.d.redis.get(marker);
      const end = await waitFor(() => {
        const i = seen.findIndex((l) => l.includes(marker));
        return i >= 0 && i + 1;
      });
      const lines = seen.splice(0, end);
      return lines.filter((l) => l.includes(`vehicle-lock:${tag}-`));
    };
    try {
      await cityCommands();
      const order = buildConfirmed({ city });
      await handleBatch([order]);
      const commands = await cityCommands();

      const mine = (await assignments(env.d.rt)).find((x) => x.order_id === order.data.orderId);
      assert.equal(mine?.vehicle_number, fleet[999], 'the one free vehicle');
      assert.equal(commands.length, 1, commands.join('\n'));
      assert.match(commands[0]!, /"set" .*"nx".*"get"/i, 'SET NX PX GET');

      const late = buildConfirmed({ city });
      await handleBatch([late]);
      assert.deepEqual(await cityCommands(), [], 'with every vehicle busy, no lock is even tried');
      assert.deepEqual(await waitingOrderIds(env.d.rt, cityKey(city)), [late.data.orderId]);
    } finally {
      await monitor.destroy();
    }
  });
});
