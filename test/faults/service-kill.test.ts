/**
 * Each service SIGKILLed in the middle of the load and started again: whatever it had in hand
 * (an HTTP request, an uncommitted offset, an unpublished outbox row) is redone or redelivered,
 * and every order answered 201 still reaches its final state exactly once. Then the same with
 * cancels in flight while the three are killed in turn: the compensations too happen once.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@delivery/common/testing';
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

  const names: ServiceName[] = ['order-service', 'inventory-service', 'dispatcher-service'];

  /**
   * SIGKILL the service (once `moment` resolves, if given) and start it again; gives the
   * consumer group members the killed process had.
   */
  async function kill(name: ServiceName, moment?: () => Promise<unknown>): Promise<string[]> {
    const service = system.services[name];
    const before = await groupMembers(system, name);
    await moment?.();
    await stopProcess(service.process, 'SIGKILL');
    await service.start();
    return before;
  }

  for (const name of names) {
    it(`${name} killed mid-load: nothing lost, nothing applied twice, nothing double-booked`, async () => {
      await runScenario(system, {
        scenario: `${name} SIGKILLed`,
        async fault() {
          const before = await kill(name);
          // The new process gets the partitions once the killed one's session has timed out.
          await waitForGroup(system, name, 1, before);
        },
      });
    });
  }

  it('a third of the orders cancelled on their way while each service in turn is SIGKILLed: stock exact, nothing given back twice, no vehicle kept by a cancelled order', async () => {
    const { figures } = await runScenario(system, {
      scenario: 'cancels while each service SIGKILLed',
      count: 150,
      perSecond: 10,
      faultAfter: 20,
      cancel: { every: 3 },
      async fault(load, cancels) {
        // Inventory first (orders stay PENDING: cancels overtake order.created), then the
        // dispatcher (vehicles stay with cancelled orders until it is back), then order-service
        // with a cancel in hand (the client gets no answer and sends it again). The three
        // sessions time out together.
        const killed: [ServiceName, string[]][] = [];
        for (const [i, name] of (
          ['inventory-service', 'dispatcher-service', 'order-service'] as const
        ).entries()) {
          await load.acceptedAtLeast(20 + 25 * i);
          const inHand = () =>
            waitFor(() => cancels!.inFlight > 0, {
              timeoutMs: 30_000,
              intervalMs: 1,
              what: 'a cancel in flight',
            });
          killed.push([name, await kill(name, name === 'order-service' ? inHand : undefined)]);
        }
        await Promise.all(killed.map(([name, before]) => waitForGroup(system, name, 1, before)));
        return { kills: killed.length };
      },
    });
    // The checks above hold for every order; these make sure the scenario did what it says.
    const { cancels } = figures;
    assert.ok(cancels, 'the scenario cancelled');
    assert.ok(cancels.answered200 >= 30, `orders cancelled: ${cancels.answered200}`);
    for (const stage of ['PENDING', 'CONFIRMED', 'DISPATCHED'])
      assert.ok((cancels.cancelledWhile[stage] ?? 0) > 0, `orders cancelled while ${stage}`);
    assert.ok(cancels.freedVehicle > 0, 'cancels that freed a vehicle');
    assert.ok(cancels.stockReturned > 0, 'cancels that gave stock back');
    assert.ok(cancels.retried > 0, 'cancels sent again after order-service was killed');
  });
});
