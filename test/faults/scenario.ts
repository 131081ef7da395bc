/**
 * One fault scenario: orders placed at a steady rate (a share of them cancelled on their way, if
 * asked), the fault in the middle of the stream, the flow left to settle, then every check of
 * checks.ts asserted and the figures reported.
 */
import assert from 'node:assert/strict';
import type { System } from '../support.js';
import { startCanceller, type CancelOptions, type Cancels } from './cancellations.js';
import { ordersInFlight, report, settle, verify, type Figures } from './checks.js';
import { placeOrders, startReleaser, type Headers, type Load } from './flow.js';

export interface ScenarioOptions {
  scenario: string;
  count?: number;
  perSecond?: number;
  /** The fault strikes once this many orders were answered 201. */
  faultAfter?: number;
  /**
   * No vehicle is released before the fault: every order answered so far is still on its way
   * when it strikes (confirmed and waiting, or dispatched). Otherwise releases run throughout.
   */
  holdReleases?: boolean;
  /**
   * Breaks something and (usually) repairs it; the load (and the cancels, if any) keep running
   * meanwhile. May return figures of its own (e.g. `{ kills: 3 }`), reported with the scenario's.
   */
  fault(load: Load, cancels?: Cancels): Promise<void | Record<string, number>>;
  /** Cancels a share of the orders answered 201 while the fault plays out (cancellations.ts). */
  cancel?: CancelOptions;
  /** Where orders are placed (default: the system's order-service). */
  orderUrl?: string;
  headers?: Headers;
  /** DLQ messages the scenario itself put there (poison); every other one would be a lost event. */
  expectedDlq?: number;
}

export async function runScenario(
  system: System,
  options: ScenarioOptions,
): Promise<{ figures: Figures; load: Load }> {
  const { count = 120, perSecond = 10, faultAfter = 30, headers } = options;
  let releaser = options.holdReleases ? undefined : startReleaser(system, { headers });
  const load = placeOrders(options.orderUrl ?? system.services['order-service'].url, { count, perSecond });
  const canceller = options.cancel && startCanceller(system, load, { ...options.cancel, headers });
  try {
    await load.acceptedAtLeast(faultAfter);
    const before = await ordersInFlight(system);
    const faultFigures = await options.fault(load, canceller?.cancels);
    releaser ??= startReleaser(system, { headers });
    // Counted again once the fault is repaired: what piled up while it lasted.
    const after = await ordersInFlight(system);
    await load.done;
    const cancels = await canceller?.finish();
    // Whether or not it settles, the figures and what is wrong are reported.
    const unsettled = await settle(system).then(
      () => undefined,
      (err: unknown) => err,
    );
    const figures = await verify(system, {
      scenario: options.scenario,
      load,
      inFlightAtFault: Math.max(before, after),
      cancels,
    });
    if (faultFigures) figures.fault = faultFigures;
    report(figures);
    if (unsettled) throw unsettled;
    assert.equal(figures.lost, 0, 'lost orders');
    assert.equal(figures.doubleAllocated, 0, 'double allocations');
    assert.equal(figures.appliedTwice, 0, 'effects applied twice');
    assert.equal(figures.dlq, options.expectedDlq ?? 0, 'messages in the DLQs');
    assert.deepEqual(figures.problems, []);
    return { figures, load };
  } finally {
    await load.done;
    await canceller?.stop();
    await releaser?.stop();
  }
}
