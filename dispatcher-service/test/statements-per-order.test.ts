/**
 * Issue 13: at low rates an order's CPU is mostly its SQL round trips (each ~0.3-0.4 ms across
 * Node and MariaDB), so the statements the dispatcher sends for one order at a time are held here
 * to a count.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cityKey, type Envelope } from '@delivery/common';
import { createTestDatabase } from '@delivery/common/testing';
import { ensureCityLock } from '../src/dispatch/city-locks-repository.js';
import {
  MIGRATIONS,
  assignments,
  buildConfirmed,
  dispatcherWithStub,
  newCity,
  registerVehicle,
  release,
  statementsOf,
  vehicleNo,
  waitingOrderIds,
} from './support.js';

/** Reads and writes of city_locks other than taking the row locks. */
const cityLockLookups = (statements: string[]) =>
  statements.filter((s) => /city_locks/i.test(s) && !/FOR UPDATE/i.test(s));

describe('SQL statements per order', () => {
  // No reconciler pass during a measurement.
  const env = dispatcherWithStub({ reconcileIntervalMs: 3_600_000 });
  const handleBatch = (events: Envelope<'order.confirmed'>[]) =>
    env.d.parts.handlers[0]!.handleBatch!(events);
  const vehicleOf = async (orderId: number) =>
    (await assignments(env.d.rt)).find((x) => x.order_id === orderId)?.vehicle_number;

  it("a city's lock row is made by its first order; later orders and releases of the city never look it up", async () => {
    const city = newCity();
    const first = buildConfirmed({ city });
    const made = await statementsOf(env.d.rt.db, () => handleBatch([first]));
    assert.equal(cityLockLookups(made).length, 2, made.join('\n'));
    assert.deepEqual(
      await env.d.rt
        .db('city_locks')
        .where({ city_key: cityKey(city) })
        .pluck('city_key'),
      [cityKey(city)],
    );

    const vehicle = vehicleNo();
    const registered = await statementsOf(env.d.rt.db, () => registerVehicle(env.d.url, vehicle, city));
    assert.equal(await vehicleOf(first.data.orderId), vehicle, 'the registration served the waiting order');
    const second = buildConfirmed({ city });
    const queued = await statementsOf(env.d.rt.db, () => handleBatch([second]));
    assert.deepEqual(await waitingOrderIds(env.d.rt, cityKey(city)), [second.data.orderId]);
    const released = await statementsOf(env.d.rt.db, () => release(env.d.url, `${vehicle}/release`));
    assert.equal(await vehicleOf(second.data.orderId), vehicle, 'the release served the waiting order');

    for (const [what, statements] of Object.entries({ registered, queued, released }))
      assert.deepEqual(cityLockLookups(statements), [], `${what}:\n${statements.join('\n')}`);
  });

  it('an order.confirmed that finds a free vehicle: 8 statements, and its order never enters the queue table', async () => {
    const city = newCity();
    const vehicle = vehicleNo();
    await registerVehicle(env.d.url, vehicle, city);
    const order = buildConfirmed({ city });

    const statements = await statementsOf(env.d.rt.db, () => handleBatch([order]));

    assert.equal(await vehicleOf(order.data.orderId), vehicle);
    // BEGIN, lock the city, known orders, free vehicles, older waiting orders, INSERT assignment,
    // INSERT outbox, COMMIT.
    assert.equal(statements.length, 8, statements.join('\n'));
    assert.deepEqual(
      statements.filter((s) => /^(INSERT INTO|DELETE FROM) waiting_orders/i.test(s)),
      [],
      statements.join('\n'),
    );
  });

  it('an order.confirmed that finds every vehicle busy: 7 statements', async () => {
    const city = newCity();
    await registerVehicle(env.d.url, vehicleNo(), city);
    await handleBatch([buildConfirmed({ city })]);
    const order = buildConfirmed({ city });

    const statements = await statementsOf(env.d.rt.db, () => handleBatch([order]));

    assert.deepEqual(await waitingOrderIds(env.d.rt, cityKey(city)), [order.data.orderId]);
    // BEGIN, lock the city, known orders, free vehicles, INSERT waiting order, vehicles of the city
    // (busy or none?), COMMIT.
    assert.equal(statements.length, 7, statements.join('\n'));
  });

  it('a release that serves a waiting order: 12 statements', async () => {
    const city = newCity();
    const vehicle = vehicleNo();
    await registerVehicle(env.d.url, vehicle, city);
    await handleBatch([buildConfirmed({ city })]);
    const waiting = buildConfirmed({ city });
    await handleBatch([waiting]);

    const statements = await statementsOf(env.d.rt.db, () => release(env.d.url, `${vehicle}/release`));

    assert.equal(await vehicleOf(waiting.data.orderId), vehicle);
    // Find the vehicle, close its assignment, wait for the city's lock, anyone waiting?; then BEGIN,
    // lock the city, free vehicles, oldest waiting, INSERT assignment, DELETE queue row, INSERT
    // outbox, COMMIT.
    assert.equal(statements.length, 12, statements.join('\n'));
  });

  it('the known lock rows are remembered per database: the same city in another database gets its row there', async () => {
    const key = cityKey(newCity());
    const other = await createTestDatabase('dispatch', MIGRATIONS);
    try {
      await ensureCityLock(env.d.rt.db, key);
      await ensureCityLock(other.db, key);
      for (const db of [env.d.rt.db, other.db])
        assert.deepEqual(await db('city_locks').where({ city_key: key }).pluck('city_key'), [key]);
    } finally {
      await other.drop();
    }
  });
});
