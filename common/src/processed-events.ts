import type { Knex } from 'knex';

/** MySQL's duplicate-key error: a unique index refused the row. */
export function isDuplicateKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ER_DUP_ENTRY';
}

/**
 * Records, in the caller's transaction, that this consumer applied the event. Returns false
 * when the event id is already there: a redelivery, whose effect is already committed. A
 * concurrent delivery of the same event waits on the row lock and then sees the duplicate.
 */
export async function markEventProcessed(
  trx: Knex.Transaction,
  event: { eventId: string; type: string },
): Promise<boolean> {
  try {
    await trx.raw('INSERT INTO processed_events (event_id, topic) VALUES (?, ?)', [
      event.eventId,
      event.type,
    ]);
    return true;
  } catch (err) {
    if (isDuplicateKeyError(err)) return false;
    throw err;
  }
}
