/**
 * The three services' MySQL (a mariadbd this test owns) killed mid-load for ~10 s: every API
 * answers 503 with a clear error, /readyz says the database is not usable, the consumers wait
 * with their messages uncommitted, and once it is back nothing is lost or applied twice.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, waitFor, type ErrorBody } from '@delivery/common/testing';
import { startSystem, type System } from '../support.js';
import { orderBody, seed } from './flow.js';
import { runScenario } from './scenario.js';
import { createSandbox, startMariaDb, type Sandbox } from './support.js';

const OUTAGE_MS = 10_000;

/** events_consumed_total{outcome="retried"} of a service, summed over topics. */
async function retriedEvents(url: string): Promise<number> {
  const { text } = await call('GET', `${url}/metrics`);
  return [...text.matchAll(/^events_consumed_total\{[^}]*outcome="retried"[^}]*\} (\d+)/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
}

describe('MySQL unreachable for 10 s under load', () => {
  let sandbox: Sandbox;
  let mysql: Awaited<ReturnType<typeof startMariaDb>>;
  let system: System;

  before(async () => {
    sandbox = createSandbox('mysql');
    mysql = await startMariaDb(sandbox);
    system = await startSystem({}, { mysqlUrl: mysql.url });
    await seed(system);
  });
  after(async () => {
    await system?.stop();
    await sandbox?.cleanup();
  });

  /** Each API answers 503 dependency_unavailable, and each /readyz 503 naming the database. */
  async function assertUnavailable() {
    const {
      'order-service': order,
      'inventory-service': inventory,
      'dispatcher-service': dispatcher,
    } = system.services;
    const calls: [string, string, unknown?][] = [
      ['POST', `${order.url}/orders`, orderBody(1)],
      ['GET', `${order.url}/orders/1`],
      ['GET', `${order.url}/orders?limit=5`],
      ['PATCH', `${order.url}/orders/1`, { status: 'DELIVERED' }],
      ['POST', `${inventory.url}/products`, { name: 'Tea', stock: 1 }],
      ['GET', `${inventory.url}/products/901`],
      ['POST', `${dispatcher.url}/dispatch-locations`, { vehicle_number: 'DB-0001', city: 'Colombo' }],
      ['GET', `${dispatcher.url}/dispatch-locations/Colombo`],
      ['PATCH', `${dispatcher.url}/dispatch-locations/CT1-1000/release`],
    ];
    for (const [method, url, body] of calls) {
      const res = await call<ErrorBody>(method, url, body);
      assert.equal(res.status, 503, `${method} ${url} answered ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'dependency_unavailable', `${method} ${url}`);
      assert.match(res.body.error.message, /database is unavailable/);
    }
    for (const s of Object.values(system.services)) {
      const res = await call<{ status: string; checks: Record<string, string> }>('GET', `${s.url}/readyz`);
      assert.equal(res.status, 503, `${s.name} /readyz`);
      assert.notEqual(res.body.checks.database, 'ok', `${s.name} /readyz names the database`);
      assert.equal(res.body.checks.kafka, 'ok', `${s.name} /readyz: Kafka is fine`);
      // Metrics matter most during an outage: the database-backed gauges must not take /metrics down.
      assert.equal((await call('GET', `${s.url}/metrics`)).status, 200, `${s.name} /metrics`);
    }
  }

  it('APIs answer 503, consumers wait, and every order answered 201 reaches its final state exactly once', async () => {
    const inventory = system.services['inventory-service'];
    const { figures } = await runScenario(system, {
      scenario: 'mysql killed 10 s',
      count: 150,
      perSecond: 20,
      faultAfter: 30,
      async fault(load) {
        // Make sure events are waiting when the database dies: inventory-service is frozen while
        // ten more orders are placed, and thawed once MySQL is gone, with their order.created
        // events still to consume.
        inventory.process.kill('SIGSTOP');
        const placed = load.accepted.length;
        try {
          await load.acceptedAtLeast(placed + 10);
          await mysql.stop('SIGKILL');
        } finally {
          inventory.process.kill('SIGCONT');
        }
        const down = Date.now();
        await assertUnavailable();
        await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - down))));
        await mysql.start();
        await waitFor(
          async () =>
            (
              await Promise.all(Object.values(system.services).map((s) => call('GET', `${s.url}/readyz`)))
            ).every((r) => r.status === 200),
          { what: 'every /readyz 200 again' },
        );
      },
    });
    // The consumer met the dead database and retried in place: nothing skipped, nothing in the DLQ.
    assert.ok((await retriedEvents(inventory.url)) > 0, 'inventory-service retried while MySQL was down');
    const refusals = Object.keys(figures.refused);
    assert.ok(refusals.includes('503'), 'orders placed during the outage were answered 503');
    assert.deepEqual(
      refusals.filter((r) => r !== '503'),
      [],
      'the only refusal is 503',
    );
  });
});
