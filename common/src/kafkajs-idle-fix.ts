import { createRequire } from 'node:module';

/**
 * KafkaJS 2.2.4 keeps every broker connection's request queue busy while nothing happens: after
 * each response it re-arms a check of its pending requests with a negative delay, so the check
 * runs again every millisecond, forever (tulios/kafkajs#1556, fixed upstream only in unmerged
 * pull requests). With a producer, a consumer and an admin client per service that is thousands
 * of wake-ups a second, most of a process's CPU when idle and a large part of it at low rates.
 *
 * Patched here, once per process, by replacing that one method: a check is armed only when a
 * request waits (throttled by the broker, or over the in-flight limit). A request pushed later
 * is sent at once or re-arms the check itself, and every response runs the check too, so
 * nothing that waits is forgotten.
 */
interface RequestQueue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** KafkaJS's own interval for re-checking requests held back by the in-flight limit. */
const RECHECK_MS = 10;

const require = createRequire(import.meta.url);
const { prototype } = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueue };

function scheduleCheckPendingRequests(this: RequestQueue): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const throttledFor = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    throttledFor > 0 ? throttledFor : RECHECK_MS,
  );
}

/** True once the patch is in place: what the test checks before it measures. */
export function kafkaIdleFixApplied(): boolean {
  return prototype.scheduleCheckPendingRequests === scheduleCheckPendingRequests;
}

prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
