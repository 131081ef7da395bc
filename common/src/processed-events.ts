import type { Knex } from 'knex';

/** MySQL's duplicate-key error: a unique index refused the row. */
export function isDuplicateKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ER_DUP_ENTRY';
}

/**
 * Records, in the caller's transaction, that this consumer applied the events; returns the ids
 * recorded now. An event whose id is missing from the result was applied before (or appears
 * earlier in the list): skip it — its effect is already committed. One statement when none is a
 * redelivery, the usual case; a concurrent delivery of the same event waits on the row lock and
 * then sees the duplicate.
 */
export async function markEventsProcessed(
  trx: Knex.Transaction,
  events: readonly { eventId: string; type: string }[],
): Promise<Set<string>> {
  const unique = new Map(events.map((e) => [e.eventId, e.type]));
  if (unique.size === 0) return new Set();
  const insert = (rows: [string, string][]) =>
    trx.raw(
      `INSERT INTO processed_events (event_id, topic) VALUES ${rows.map(() => '(?, ?)').join(', ')}`,
      rows.flat(),
    );
  try {
    await insert([...unique]);
    return new Set(unique.keys());
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
  // Some were seen before: the failed statement inserted nothing, so find them and insert the rest.
  const [seen] = (await trx.raw('SELECT event_id FROM processed_events WHERE event_id IN (?) FOR UPDATE', [
    [...unique.keys()],
  ])) as [{ event_id: string }[]];
  for (const { event_id } of seen) unique.delete(event_id);
  if (unique.size > 0) await insert([...unique]);
  return new Set(unique.keys());
}
