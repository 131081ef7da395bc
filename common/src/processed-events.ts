import type { Knex } from 'knex';
import { isDuplicateKeyError } from './db.js';

/** The events of a batch to apply, and for each event of the batch whether it is one of them. */
export interface FreshEvents<E> {
  fresh: E[];
  isFresh: boolean[];
}

/**
 * Records, in the caller's transaction, that this consumer applies the events, and returns the
 * ones to apply: each event not applied before, once (the first copy when the list repeats an
 * id). An event left out was applied before: its effect is already committed, skip it.
 */
export async function keepFreshEvents<E extends { eventId: string; type: string }>(
  trx: Knex.Transaction,
  events: readonly E[],
): Promise<FreshEvents<E>> {
  const recorded = await markEventsProcessed(trx, events);
  // Set.delete is true once per id: a later copy of an event in the list is a duplicate.
  const isFresh = events.map((e) => recorded.delete(e.eventId));
  return { fresh: events.filter((_, i) => isFresh[i]), isFresh };
}

/**
 * Inserts the events' ids into processed_events; returns the ids inserted now. One statement
 * when none is a redelivery, the usual case; a concurrent delivery of the same event waits on
 * the row lock and then sees the duplicate.
 */
async function markEventsProcessed(
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
