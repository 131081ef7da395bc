import type { JsonClient } from './system.js';
import { nowMs, sleep } from './stats.js';

export interface ReleaseStats {
  released: number;
  /** 409: the vehicle did not carry the order (should not happen: one release per dispatched order). */
  notAllocated: number;
  failed: number;
  retries: number;
  latencyMs: number[];
}

/**
 * Frees each vehicle `holdMs` after its order.dispatched, through the dispatcher's release
 * route, so allocation keeps flowing with a finite fleet. One release per order, however many
 * times its event is delivered.
 */
export function createReleaser(dispatcher: JsonClient, holdMs: number, isOurs: (vehicle: string) => boolean) {
  const stats: ReleaseStats = { released: 0, notAllocated: 0, failed: 0, retries: 0, latencyMs: [] };
  const scheduled = new Set<number>();
  const pending = new Set<Promise<void>>();

  async function release(orderId: number, vehicle: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const t0 = nowMs();
      try {
        // As a driver's app should: the order it delivers, and one key for all its attempts.
        const res = await dispatcher.call(
          'PATCH',
          `/dispatch-locations/${encodeURIComponent(vehicle)}/release`,
          { orderId },
          { 'idempotency-key': `bench-release-${orderId}` },
        );
        if (res.status === 200) {
          stats.released += 1;
          stats.latencyMs.push(nowMs() - t0);
          return;
        }
        if (res.status === 409) {
          stats.notAllocated += 1;
          return;
        }
      } catch {
        // Network trouble: retried like a 5xx.
      }
      if (attempt >= 5) {
        stats.failed += 1;
        return;
      }
      stats.retries += 1;
      await sleep(100 * attempt);
    }
  }

  return {
    stats,
    onDispatched(orderId: number, vehicle: string) {
      if (holdMs < 0 || scheduled.has(orderId) || !isOurs(vehicle)) return;
      scheduled.add(orderId);
      const p = sleep(holdMs).then(() => release(orderId, vehicle));
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },
    /** Waits for every scheduled release to finish. */
    async drain(): Promise<void> {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}
