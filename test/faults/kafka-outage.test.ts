/**
 * DESIGN.md §5.1 under fire: the broker goes away for ~10 s while orders are placed. Orders are
 * still accepted (the outbox holds their events), and once the broker is back every one of them
 * reaches its final state with each effect applied exactly once.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, waitFor } from '@delivery/common/testing';
import { startSystem, type System } from '../support.js';
import { seed } from './flow.js';
import { runScenario } from './scenario.js';
import { createSandbox, startKafka, type Sandbox } from './support.js';

const OUTAGE_MS = 10_000;

describe('Kafka broker stopped for 10 s under load', () => {
  let sandbox: Sandbox;
  let kafka: Awaited<ReturnType<typeof startKafka>>;
  let system: System;

  before(async () => {
    sandbox = createSandbox('kafka');
    kafka = await startKafka(sandbox);
    system = await startSystem({}, { kafkaBrokers: kafka.brokers });
    await seed(system);
  });
  after(async () => {
    await system?.stop();
    await sandbox?.cleanup();
  });

  it('orders are still accepted, and every order answered 201 reaches its final state exactly once', async () => {
    const orderUrl = system.services['order-service'].url;
    let acceptedDuringOutage = 0;
    const { figures } = await runScenario(system, {
      scenario: 'kafka broker stopped 10 s',
      async fault(load) {
        await kafka.stop();
        const acceptedBefore = load.accepted.length;
        const readyz = await waitFor(
          async () => {
            const res = await call<{ checks: Record<string, string> }>('GET', `${orderUrl}/readyz`);
            return res.status === 503 ? res.body : undefined;
          },
          { what: '/readyz 503 while the broker is down' },
        );
        assert.notEqual(readyz.checks.kafka, 'ok', '/readyz names Kafka');
        assert.equal(readyz.checks.database, 'ok');
        await new Promise((r) => setTimeout(r, OUTAGE_MS));
        acceptedDuringOutage = load.accepted.length - acceptedBefore;
        await kafka.start();
      },
    });
    assert.ok(acceptedDuringOutage > 0, 'POST /orders answered 201 while Kafka was down');
    assert.deepEqual(figures.refused, {}, 'no order refused: the outbox takes them while Kafka is down');
  });
});
