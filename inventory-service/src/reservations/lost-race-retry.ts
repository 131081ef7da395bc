import { isDuplicateKeyError, type Logger } from '@delivery/common';

/**
 * Runs a batch's transaction again when the unique order_id refused a row: a concurrent batch
 * decided one of its orders (reserved it, or recorded its cancel) and committed after this one
 * looked. The next run sees that decision and acts on it, so each order of the batch can cost at
 * most one run: that bound ends a bug's loop without ever cutting a fair run short.
 */
export async function retryLostRace<T>(
  logger: Logger,
  events: readonly { data: { orderId: number } }[],
  run: () => Promise<T>,
): Promise<T> {
  const orders = new Set(events.map((e) => e.data.orderId)).size;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (!isDuplicateKeyError(err) || attempt > orders) throw err;
      logger.debug({ attempt }, 'a concurrent batch decided one of these orders first; batch run again');
    }
  }
}
