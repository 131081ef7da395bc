import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../src/config.js';

describe('dispatcher configuration', () => {
  it('with an empty environment, uses the local defaults and unprefixed lock keys', () => {
    const c = loadConfig({});
    assert.equal(c.PORT, 3003);
    assert.equal(c.MYSQL_DATABASE, 'dispatch');
    assert.equal(c.REDIS_URL, 'redis://127.0.0.1:6379');
    assert.equal(c.ORDER_SERVICE_URL, 'http://127.0.0.1:3001');
    assert.equal(c.VEHICLE_LOCK_TTL_MS, 3_600_000);
    assert.equal(c.LOCK_RECONCILE_INTERVAL_MS, 30_000);
    assert.equal(c.REDIS_KEY_PREFIX, '');
  });

  it('without REDIS_KEY_PREFIX, lock keys follow the topic namespace; an explicit prefix wins', () => {
    assert.equal(loadConfig({ KAFKA_TOPIC_PREFIX: 'test-ab12.' }).REDIS_KEY_PREFIX, 'test-ab12.');
    assert.equal(
      loadConfig({ KAFKA_TOPIC_PREFIX: 'test-ab12.', REDIS_KEY_PREFIX: 'x:' }).REDIS_KEY_PREFIX,
      'x:',
    );
  });

  it('INTERNAL_TOKEN is optional, empty means unset, and a set one must look like a secret', () => {
    assert.equal(loadConfig({}).INTERNAL_TOKEN, undefined);
    assert.equal(loadConfig({ INTERNAL_TOKEN: '' }).INTERNAL_TOKEN, undefined);
    assert.equal(
      loadConfig({ INTERNAL_TOKEN: 'a-long-enough-secret' }).INTERNAL_TOKEN,
      'a-long-enough-secret',
    );
    assert.throws(() => loadConfig({ INTERNAL_TOKEN: 'short' }), /INTERNAL_TOKEN/);
    assert.throws(() => loadConfig({ INTERNAL_TOKEN: 'has spaces in the token' }), /INTERNAL_TOKEN/);
  });

  it('with a bad value, fails naming every bad setting', () => {
    assert.throws(
      () =>
        loadConfig({ REDIS_URL: 'http://127.0.0.1:6379', VEHICLE_LOCK_TTL_MS: '10', REDIS_KEY_PREFIX: 'a*' }),
      (err: Error) =>
        ['REDIS_URL', 'VEHICLE_LOCK_TTL_MS', 'REDIS_KEY_PREFIX'].every((k) => err.message.includes(k)),
    );
  });
});
