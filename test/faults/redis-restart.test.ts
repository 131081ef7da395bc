/**
 * DESIGN.md §5.3 across a Redis restart: the dispatcher's own redis-server is killed mid-load and
 * comes back empty (no persistence). The unique index keeps every vehicle to one order meanwhile,
 * and the reconciler puts the locks back in line with the assignments.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { call, waitFor } from '@delivery/common/testing';
import { startSystem, type System } from '../support.js';
import { openDatabases, settle } from './checks.js';
import { orderBody, seed, startReleaser } from './flow.js';
import { runScenario } from './scenario.js';
import { createSandbox, startRedis, type Sandbox } from './support.js';

const sortedEntries = (entries: [string, string][]) =>
  Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));

describe('Redis restarted (its data gone) under load', () => {
  let sandbox: Sandbox;
  let redisServer: Awaited<ReturnType<typeof startRedis>>;
  let redis: ReturnType<typeof createClient>;
  let system: System;
  let prefix: string;

  /** Every vehicle lock in Redis: vehicle key → order id. */
  async function locks(): Promise<Record<string, string>> {
    const keys: string[] = [];
    for await (const batch of redis.scanIterator({ MATCH: `${prefix}vehicle-lock:*` })) keys.push(...batch);
    const values = keys.length > 0 ? await redis.mGet(keys) : [];
    return sortedEntries(keys.map((k, i) => [k.slice(`${prefix}vehicle-lock:`.length), String(values[i])]));
  }

  /** Active assignments in MySQL: vehicle key → order id. */
  async function activeAssignments(): Promise<Record<string, string>> {
    const dbs = openDatabases(system);
    try {
      const rows = (await dbs['dispatcher-service']('assignments as a')
        .join('vehicles as v', 'v.id', 'a.vehicle_id')
        .where('a.status', 'ACTIVE')
        .select('v.vehicle_key', 'a.order_id')) as { vehicle_key: string; order_id: number }[];
      return sortedEntries(rows.map((r) => [r.vehicle_key, String(r.order_id)]));
    } finally {
      await dbs.close();
    }
  }

  async function restartRedis() {
    await redisServer.stop('SIGKILL');
    await redisServer.start();
    await waitFor(() => redis.isReady, { what: 'the test client reconnected' });
  }

  before(async () => {
    sandbox = createSandbox('redis');
    redisServer = await startRedis(sandbox);
    system = await startSystem(
      { 'dispatcher-service': { LOCK_RECONCILE_INTERVAL_MS: '1000' } },
      { redisUrl: redisServer.url },
    );
    prefix = String(system.services['dispatcher-service'].env.REDIS_KEY_PREFIX);
    redis = createClient({ url: redisServer.url, socket: { reconnectStrategy: () => 100 } });
    redis.on('error', () => undefined);
    await redis.connect();
    await seed(system);
  });
  after(async () => {
    await redis?.close().catch(() => undefined);
    await system?.stop();
    await sandbox?.cleanup();
  });

  it('mid-load: no vehicle double-booked, nothing lost, and no lock outlives its assignment', async () => {
    await runScenario(system, {
      scenario: 'redis killed and restarted empty',
      async fault() {
        await redisServer.stop('SIGKILL');
        // Allocations and releases meet a dead Redis for a while: they retry, nothing is decided.
        await new Promise((r) => setTimeout(r, 3_000));
        await redisServer.start();
      },
    });
    await waitFor(async () => Object.keys(await locks()).length === 0, {
      what: 'no lock left once every vehicle is free',
    });
  });

  it('with vehicles allocated, the restart loses the locks and the reconciler re-creates each with its order id', async () => {
    const orderUrl = system.services['order-service'].url;
    // One order per vehicle of every city, and no releases: every vehicle ends up carrying one.
    for (let n = 1; n <= 9; n++) {
      const res = await call('POST', `${orderUrl}/orders`, {
        ...orderBody(n),
        items: [{ productId: 901, price: 1, quantity: 1 }],
      });
      assert.equal(res.status, 201);
    }
    const active = await waitFor(
      async () => {
        const a = await activeAssignments();
        return Object.keys(a).length === 9 ? a : undefined;
      },
      { what: 'all 9 vehicles allocated' },
    );
    assert.deepEqual(await locks(), active);

    // A key nobody but this test writes shows the restart lost everything: the locks themselves
    // may already be back, since the reconciler (every second here) can run before this reads.
    await redis.set(`${prefix}restart-marker`, '1');
    await restartRedis();
    assert.equal(await redis.get(`${prefix}restart-marker`), null, 'a restarted Redis keeps nothing');
    await waitFor(async () => JSON.stringify(await locks()) === JSON.stringify(active), {
      what: 'the locks re-created by the reconciler',
    });
    assert.deepEqual(await locks(), active);

    const releaser = startReleaser(system);
    await settle(system);
    await releaser.stop();
  });
});
