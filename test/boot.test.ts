import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call } from '@delivery/common/testing';
import { startSystem, stopProcess, type System } from './support.js';

describe('the three services as real processes', () => {
  let system: System;
  before(async () => {
    system = await startSystem();
  });
  after(() => system?.stop());

  it('each answers /healthz and /readyz with its database and Kafka checked', async () => {
    for (const s of Object.values(system.services)) {
      const health = await call('GET', `${s.url}/healthz`);
      assert.equal(health.status, 200, `${s.name} /healthz`);
      const ready = await call<{ checks: Record<string, string> }>('GET', `${s.url}/readyz`);
      assert.equal(ready.status, 200, `${s.name} /readyz`);
      assert.equal(ready.body.checks.database, 'ok');
      assert.equal(ready.body.checks.kafka, 'ok');
    }
  });

  it('logs are JSON lines carrying the service name', async () => {
    for (const s of Object.values(system.services)) {
      const lines = s.logLines();
      assert.ok(lines.length > 0, `${s.name} logged`);
      assert.ok(
        lines.every((l) => l.service === s.name),
        `${s.name} lines name the service`,
      );
    }
  });

  it('SIGTERM stops a service gracefully with exit code 0', async () => {
    const order = system.services['order-service'];
    const code = await stopProcess(order.process);
    assert.equal(code, 0);
    assert.ok(order.logLines().some((l) => l.msg === 'shutdown complete'));
  });
});
