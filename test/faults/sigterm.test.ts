/**
 * DESIGN.md §5.6 under load: SIGTERM stops HTTP intake, lets in-flight requests and handlers
 * finish, commits offsets, closes connections and exits 0; once the service is started again,
 * nothing was lost and nothing is applied twice.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem, stopProcess, type ServiceName, type System } from '../support.js';
import { groupMembers, openDatabases, waitForGroup } from './checks.js';
import { seed } from './flow.js';
import { runScenario } from './scenario.js';

describe('SIGTERM under load', () => {
  let system: System;
  /** Every order answered 201 by any scenario of this file. */
  const answered = new Set<number>();

  before(async () => {
    system = await startSystem({ 'dispatcher-service': { LOCK_RECONCILE_INTERVAL_MS: '2000' } });
    await seed(system);
  });
  after(() => system?.stop());

  for (const name of ['order-service', 'inventory-service', 'dispatcher-service'] as ServiceName[]) {
    it(`${name} stops gracefully with exit code 0, and after its restart nothing is lost or applied twice`, async () => {
      const service = system.services[name];
      const { load } = await runScenario(system, {
        scenario: `${name} SIGTERMed`,
        count: 120,
        perSecond: 30,
        faultAfter: 40,
        holdReleases: true,
        async fault() {
          const logged = service.logLines().length;
          const before = await groupMembers(system, name);
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
          await waitForGroup(system, name, 1, before);
        },
      });
      // A graceful stop cuts no request: every order the system committed was answered 201.
      for (const o of load.accepted) answered.add(o.id);
      const dbs = openDatabases(system);
      try {
        const ids = ((await dbs['order-service']('orders').select('id')) as { id: number }[]).map((r) =>
          Number(r.id),
        );
        assert.deepEqual(
          ids.filter((id) => !answered.has(id)),
          [],
          'orders committed but never answered',
        );
      } finally {
        await dbs.close();
      }
    });
  }
});
