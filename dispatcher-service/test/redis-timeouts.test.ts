/**
 * A Redis that stops answering with its connection open (its process stopped): every command
 * fails within REDIS_COMMAND_TIMEOUT as a 503 the consumers retry, /readyz says so within 2 s,
 * and once it answers again the replies still reach the commands they belong to. The machine's
 * Redis stands behind a relay that can be frozen.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { isTransientError, toAppError } from '@delivery/common';
import {
  captureLogger,
  freezableProxy,
  timedFailure,
  uniqueId,
  type FreezableProxy,
} from '@delivery/common/testing';
import { closeRedis, createRedis, redisReadiness, type RedisClient } from '../src/redis.js';
import { TEST_REDIS_URL, deleteKeys } from './support.js';

const COMMAND_MS = 500;
const SLACK_MS = 500;

describe('a Redis that stops answering', () => {
  const prefix = `test-${uniqueId()}:`;
  let proxy: FreezableProxy;
  let redis: RedisClient;

  before(async () => {
    const { hostname, port } = new URL(TEST_REDIS_URL);
    proxy = await freezableProxy({ host: hostname, port: Number(port || 6379) });
    redis = createRedis(proxy.url('redis'), captureLogger('dispatcher-service').logger, COMMAND_MS);
    await redis.connect();
  });
  after(async () => {
    proxy.thaw();
    await deleteKeys(redis, prefix);
    await closeRedis(redis);
    await proxy.close();
  });

  it('a command fails within REDIS_COMMAND_TIMEOUT as a 503, and later replies stay with their commands', async () => {
    await redis.set(`${prefix}a`, 'A');
    await redis.set(`${prefix}b`, 'B');
    proxy.freeze();
    const { ms, err } = await timedFailure(() => redis.get(`${prefix}a`));
    assert.ok(ms >= COMMAND_MS - 50 && ms <= COMMAND_MS + SLACK_MS, `failed after ${Math.round(ms)} ms`);
    assert.equal(toAppError(err).status, 503, String(err));
    assert.ok(isTransientError(err), 'a consumer retries it without limit');
    proxy.thaw();
    // The late answer to the GET of a ("A") must not be taken for this one's.
    assert.equal(await redis.get(`${prefix}b`), 'B');
  });

  it('/readyz names Redis within 2 s while it does not answer, whatever REDIS_COMMAND_TIMEOUT is', async () => {
    const patient = createRedis(proxy.url('redis'), captureLogger('dispatcher-service').logger, 10_000);
    await patient.connect();
    try {
      proxy.freeze();
      const { ms, err } = await timedFailure(redisReadiness(patient));
      assert.ok(ms <= 2_000 + SLACK_MS, `failed after ${Math.round(ms)} ms`);
      assert.match(String(err), /redis did not answer within 2 s/);
      proxy.thaw();
      await redisReadiness(patient)();
    } finally {
      proxy.thaw();
      await closeRedis(patient);
    }
  });
});
