/**
 * Each service SIGKILLed in the middle of the load and started again: whatever it had in hand
 * (an HTTP request, an uncommitted offset, an unpublished outbox row) is redone or redelivered,
 * and every order answered 201 still reaches its final state exactly once.
 */
import { describe, it, before, after } from 'node:test';
import { startSystem, stopProcess, type ServiceName, type System } from '../support.js';
import { groupMembers, waitForGroup } from './checks.js';
import { seed } from './flow.js';
import { runScenario } from './scenario.js';

describe('each service SIGKILLed under load and restarted', () => {
  let system: System;

  before(async () => {
    system = await startSystem({ 'dispatcher-service': { LOCK_RECONCILE_INTERVAL_MS: '2000' } });
    await seed(system);
  });
  after(() => system?.stop());

  for (const name of ['order-service', 'inventory-service', 'dispatcher-service'] as ServiceName[]) {
    it(`${name} killed mid-load: nothing lost, nothing applied twice, nothing double-booked`, async () => {
      await runScenario(system, {
        scenario: `${name} SIGKILLed`,
        async fault() {
          const service = system.services[name];
          const before = await groupMembers(system, name);
          await stopProcess(service.process, 'SIGKILL');
          await service.start();
          // The new process gets the partitions once the killed one's session has timed out.
          await waitForGroup(system, name, 1, before);
        },
      });
    });
  }
});
