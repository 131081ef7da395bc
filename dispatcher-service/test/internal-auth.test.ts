import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, type ErrorBody } from '@delivery/common/testing';
import {
  assignments,
  buildConfirmed,
  newCity,
  publishConfirmed,
  registerVehicle,
  release,
  startOrderStub,
  startTestDispatcher,
  testRedisPrefix,
  vehicleNo,
  type OrderStub,
  type TestDispatcher,
} from './support.js';

const TOKEN = 'release-token-0123456789';

describe('with INTERNAL_TOKEN set, the release endpoints need it', () => {
  let stub: OrderStub;
  let d: TestDispatcher;

  before(async () => {
    stub = await startOrderStub();
    d = await startTestDispatcher({
      orderServiceUrl: stub.url,
      redisPrefix: testRedisPrefix(),
      internalToken: TOKEN,
    });
  });
  after(async () => {
    await d?.close();
    await stub?.stop();
  });

  async function allocatedVehicle() {
    const city = newCity();
    const vehicle = vehicleNo();
    assert.equal((await registerVehicle(d.url, vehicle, city)).status, 201, 'registration needs no token');
    const order = buildConfirmed({ city });
    await publishConfirmed(d.rt, order);
    await waitFor(async () => (await assignments(d.rt)).some((a) => a.order_id === order.data.orderId), {
      what: 'the order allocated',
    });
    return { vehicle, city, orderId: order.data.orderId };
  }

  const activeFor = async (orderId: number) =>
    (await assignments(d.rt)).find((a) => a.order_id === orderId)?.status === 'ACTIVE';

  for (const [what, headers] of [
    ['no token', {}],
    ['a wrong bearer token', { authorization: `Bearer ${TOKEN}x` }],
    ['a wrong x-internal-token', { 'x-internal-token': 'nope' }],
    ['the token in another scheme', { authorization: `Basic ${TOKEN}` }],
  ] as [string, Record<string, string>][]) {
    it(`with ${what}: 401 unauthorized, order-service not called, the vehicle stays allocated`, async () => {
      const { vehicle, city, orderId } = await allocatedVehicle();
      const calls = stub.deliveries.length;
      for (const path of [`${vehicle}/release`, `${vehicle}/${encodeURIComponent(city)}/release`]) {
        const res = await release<ErrorBody>(d.url, path, headers);
        assert.equal(res.status, 401, path);
        assert.equal(res.body.error.code, 'unauthorized');
      }
      assert.equal(stub.deliveries.length, calls);
      assert.ok(await activeFor(orderId));
    });
  }

  for (const [what, headers] of [
    ['authorization: Bearer', { authorization: `Bearer ${TOKEN}` }],
    ['x-internal-token', { 'x-internal-token': TOKEN }],
  ] as [string, Record<string, string>][]) {
    it(`with the token as ${what}: 200, and the call to order-service carries the token`, async () => {
      const { vehicle, orderId } = await allocatedVehicle();
      const res = await release(d.url, `${vehicle}/release`, headers);
      assert.equal(res.status, 200);
      const call = stub.deliveries.find((p) => p.orderId === orderId);
      assert.equal(call?.authorization, `Bearer ${TOKEN}`);
      assert.equal(await activeFor(orderId), false);
    });
  }
});
