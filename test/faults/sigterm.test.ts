/**
 * DESIGN.md §5.6 under load: SIGTERM stops HTTP intake, lets in-flight requests and handlers
 * finish, commits offsets, closes connections and exits 0; once the service is started again,
 * nothing was lost and nothing is applied twice.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, stopProcess, type ServiceName, type System } from '../support.js';
import { waitForGroup } from './checks.js';
import { seed } from './flow.js';
import { runScenario } from './scenario.js';

describe('SIGTERM under load', () => {
  let system: System;

  before(async () => {
    system = await startSystem({ 'dispatcher-service': { LOCK_RECONCILE_INTERVAL_MS: '2000' } });
    await seed(system);
  });
  after(() => system?.stop());

  for (const name of ['order-service', 'inventory-service', 'dispatcher-service'] as ServiceName[]) {
    it(`${name} stops gracefully with exit code 0, and after its restart nothing is lost or applied twice`, async () => {
      const service = system.services[name];
      await runScenario(system, {
        scenario: `${name} SIGTERMed`,
        count: 100,
        async fault() {
          const logged = service.logLines().length;
          const code = await stopProcess(service.process, 'SIGTERM');
          assert.equal(code, 0, `${name} exit code`);
          const shutdown = service.logLines().slice(logged);
          assert.ok(
            shutdown.some((l) => l.msg === 'shutdown complete'),
            'shutdown complete logged',
          );
          assert.deepEqual(
            shutdown.filter((l) => l.msg === 'shutdown step failed' || l.msg === 'shutdown timed out'),
            [],
          );
          await service.start();
          await waitForGroup(system, name, 1);
        },
      });
    });
  }
});
