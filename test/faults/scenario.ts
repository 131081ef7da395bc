/**
 * One fault scenario: orders placed at a steady rate, the fault in the middle of the stream,
 * the flow left to settle, then every check of checks.ts asserted and the figures reported.
 */
import assert from 'node:assert/strict';
import { waitFor } from '@delivery/common/testing';
import type { System } from '../support.js';
import { ordersInFlight, report, settle, verify, type Figures } from './checks.js';
import { placeOrders, startReleaser, type Headers, type Load } from './flow.js';

export interface ScenarioOptions {
  scenario: string;
  count?: number;
  perSecond?: number;
  /** The fault strikes once this many orders were answered 201 ... */
  faultAfter?: number;
  /** ... and this many are on their way (placed, not yet DELIVERED or REJECTED). */
  faultInFlight?: number;
  /** Breaks something and (usually) repairs it; the load keeps running meanwhile. */
  fault(load: Load): Promise<void>;
  /** Where orders are placed (default: the system's order-service). */
  orderUrl?: string;
  headers?: Headers;
  /** DLQ messages the scenario itself put there (poison); every other one would be a lost event. */
  expectedDlq?: number;
}

export async function runScenario(system: System, options: ScenarioOptions): Promise<Figures> {
  const { count = 120, perSecond = 10, faultAfter = 30, headers } = options;
  const releaser = startReleaser(system, { headers });
  const load = placeOrders(options.orderUrl ?? system.services['order-service'].url, { count, perSecond });
  try {
    await load.acceptedAtLeast(faultAfter);
    const wanted = options.faultInFlight ?? 0;
    const before = await waitFor(
      async () => {
        const n = await ordersInFlight(system);
        return n >= wanted ? n : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 20, what: `${wanted} orders in flight` },
    );
    await options.fault(load);
    // Counted again once the fault is repaired: what piled up while it lasted.
    const after = await ordersInFlight(system);
    await load.done;
    await settle(system);
    const figures = await verify(system, {
      scenario: options.scenario,
      load,
      inFlightAtFault: Math.max(before, after),
    });
    report(figures);
    assert.equal(figures.lost, 0, 'lost orders');
    assert.equal(figures.doubleAllocated, 0, 'double allocations');
    assert.equal(figures.appliedTwice, 0, 'effects applied twice');
    assert.equal(figures.dlq, options.expectedDlq ?? 0, 'messages in the DLQs');
    assert.deepEqual(figures.problems, []);
    return figures;
  } finally {
    await load.done;
    await releaser.stop();
  }
}
