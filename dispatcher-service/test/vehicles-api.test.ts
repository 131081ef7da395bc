import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, countRows, uniqueId, waitFor, type ErrorBody } from '@delivery/common/testing';
import {
  assignments,
  buildConfirmed,
  newCity,
  publishConfirmed,
  registerVehicle,
  startOrderStub,
  startTestDispatcher,
  testRedisPrefix,
  vehicleNo,
  type OrderStub,
  type TestDispatcher,
} from './support.js';

describe('POST and GET /dispatch-locations', () => {
  let stub: OrderStub;
  let d: TestDispatcher;

  before(async () => {
    stub = await startOrderStub();
    d = await startTestDispatcher({ orderServiceUrl: stub.url, redisPrefix: testRedisPrefix() });
  });
  after(async () => {
    await d?.close();
    await stub?.stop();
  });

  const list = <T = unknown>(city: string, query = '') =>
    call<T>('GET', `${d.url}/dispatch-locations/${encodeURIComponent(city)}${query}`);
  const post = <T = unknown>(body: unknown) => call<T>('POST', `${d.url}/dispatch-locations`, body);
  const vehicleCount = async () => (await countRows(d.rt.db, ['vehicles'])).vehicles;

  it('when the body is valid, 201 with id, vehicle_number and city, trimmed', async () => {
    const vehicle = vehicleNo();
    const res = await post<{ id: number }>({ vehicle_number: `  ${vehicle} `, city: ' Colombo  ' });
    assert.equal(res.status, 201);
    const body = res.body;
    assert.deepEqual(Object.keys(body).sort(), ['city', 'id', 'vehicle_number']);
    assert.ok(Number.isInteger(body.id) && body.id > 0);
    assert.deepEqual(body, { id: body.id, vehicle_number: vehicle, city: 'Colombo' });
  });

  it('when the vehicle_number exists in another case, 409 vehicle_exists and nothing is written', async () => {
    const vehicle = `ABC-${uniqueId()}`;
    assert.equal((await registerVehicle(d.url, vehicle, newCity())).status, 201);
    const before = await vehicleCount();
    const res = await registerVehicle<ErrorBody>(d.url, vehicle.toLowerCase(), newCity());
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'vehicle_exists');
    assert.equal(await vehicleCount(), before);
  });

  it('when fields are missing, malformed, too long or unknown, 400 names each and nothing is written', async () => {
    const before = await vehicleCount();
    const cases: [unknown, string[]][] = [
      [{}, ['city', 'vehicle_number']],
      [{ vehicle_number: '   ', city: '  ' }, ['city', 'vehicle_number']],
      [{ vehicle_number: 'AB_12!', city: 'Colombo' }, ['vehicle_number']],
      [{ vehicle_number: 'X'.repeat(33), city: 'C'.repeat(101) }, ['city', 'vehicle_number']],
      [{ vehicle_number: 42, city: 'Colombo' }, ['vehicle_number']],
      [{ vehicle_number: 'ABC-1', city: 'Colombo', driver: 'Sam' }, ['driver']],
      [[], ['(body)']],
    ];
    for (const [body, paths] of cases) {
      const res = await post<ErrorBody>(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const { error } = res.body;
      assert.equal(error.code, 'validation_failed');
      assert.deepEqual([...new Set(error.details?.map((x) => x.path))].sort(), paths, JSON.stringify(body));
    }
    assert.equal(await vehicleCount(), before);
  });

  it('when the city is over 100 characters once case-folded ("İ" × 60), 400 validation_failed saying so, nothing written', async () => {
    const before = await vehicleCount();
    const res = await post<ErrorBody>({ vehicle_number: vehicleNo(), city: 'İ'.repeat(60) });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'validation_failed');
    assert.deepEqual(
      res.body.error.details?.map((x) => x.path),
      ['city'],
    );
    assert.match(res.body.error.details?.[0]?.message ?? '', /at most 100 characters once case-folded/);
    assert.equal(await vehicleCount(), before);
  });

  it('when the city is 100 emoji (200 UTF-16 units, 100 characters), 201 and it is listed under that city', async () => {
    const city = `${uniqueId()}${'\u{1F69A}'.repeat(92)}`;
    const vehicle = vehicleNo();
    const res = await post({ vehicle_number: vehicle, city });
    assert.equal(res.status, 201);
    assert.deepEqual((await list(city)).body, [{ vehicle_number: vehicle, city }]);
  });

  it('GET and PATCH …/:city/release with a city over 100 characters once case-folded are 400 validation_failed', async () => {
    const city = encodeURIComponent('İ'.repeat(60));
    const listed = await list<ErrorBody>('İ'.repeat(60));
    assert.equal(listed.status, 400);
    assert.equal(listed.body.error.code, 'validation_failed');
    const released = await call<ErrorBody>('PATCH', `${d.url}/dispatch-locations/ABC-1/${city}/release`);
    assert.equal(released.status, 400);
    assert.equal(released.body.error.code, 'validation_failed');
  });

  it("GET lists the city's vehicles in registration order with exactly vehicle_number and city, matching the city loosely", async () => {
    const city = newCity();
    const [a, b, c] = [vehicleNo(), vehicleNo(), vehicleNo()];
    await registerVehicle(d.url, a, city);
    await registerVehicle(d.url, vehicleNo(), newCity());
    await registerVehicle(d.url, b, city.toUpperCase());
    await registerVehicle(d.url, c, ` ${city} `);
    const res = await list(`  ${city.toLowerCase()}  `);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, [
      { vehicle_number: a, city },
      { vehicle_number: b, city: city.toUpperCase() },
      { vehicle_number: c, city },
    ]);
  });

  it('GET of a city without vehicles is 200 []', async () => {
    const res = await list(newCity());
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, []);
  });

  it('GET ?available=true lists only vehicles without an order, ?available=false only allocated ones', async () => {
    const city = newCity();
    const [a, b] = [vehicleNo(), vehicleNo()];
    await registerVehicle(d.url, a, city);
    await registerVehicle(d.url, b, city);
    const order = buildConfirmed({ city });
    await publishConfirmed(d.rt, order);
    await waitFor(async () => (await assignments(d.rt)).some((x) => x.order_id === order.data.orderId), {
      what: 'allocation',
    });
    assert.deepEqual((await list(city, '?available=true')).body, [{ vehicle_number: b, city }]);
    assert.deepEqual((await list(city, '?available=false')).body, [{ vehicle_number: a, city }]);
    assert.deepEqual((await list(city)).body, [
      { vehicle_number: a, city },
      { vehicle_number: b, city },
    ]);
  });

  it('GET with available other than true/false, or an unknown query parameter, is 400', async () => {
    for (const query of ['?available=yes', '?available=true&available=false', '?availble=true']) {
      const res = await list<ErrorBody>('Colombo', query);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.error.code, 'validation_failed');
    }
    const long = await list('C'.repeat(101));
    assert.equal(long.status, 400);
  });

  it('/readyz checks Redis next to the database and Kafka', async () => {
    const res = await call('GET', `${d.url}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      status: 'ready',
      checks: { database: 'ok', kafka: 'ok', redis: 'ok' },
    });
  });
});
