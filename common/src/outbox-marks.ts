import type { Knex } from 'knex';

/**
 * Fast-path rows the broker acknowledged and the table does not say yet. They are marked
 * published together, each with the time the broker acknowledged it, at most `markEveryMs`
 * after that (one UPDATE for many rounds), or as soon as a batch's worth waits.
 */
export interface PublishedMarks {
  /** Rows the broker acknowledged just now. */
  acked(eventIds: string[]): void;
  /** Whether the rows waiting are to be marked now. */
  due(): boolean;
  /** When the oldest acknowledged row must be marked by (Infinity: none waits). */
  dueAt(): number;
  /** Marks every acknowledged row published, in one statement. */
  markAll(): Promise<void>;
}

export function publishedMarks(db: Knex, markEveryMs: number, batchSize: number): PublishedMarks {
  /** By acknowledgement, oldest first. */
  let acked: { at: Date; eventIds: string[] }[] = [];
  let ackedRows = 0;
  const dueAt = () => (acked.length === 0 ? Infinity : acked[0]!.at.getTime() + markEveryMs);

  /**
   * Until marked, a row is simply not yet marked: a crash here means it is sent again by the
   * next poll (consumers are idempotent), never that it is lost.
   */
  async function markAll(): Promise<void> {
    if (acked.length === 0) return;
    const groups = acked;
    acked = [];
    ackedRows = 0;
    try {
      await db.raw(
        `UPDATE outbox SET published_at = CASE ${groups.map(() => 'WHEN event_id IN (?) THEN ?').join(' ')} END
         WHERE event_id IN (?) AND published_at IS NULL`,
        [...groups.flatMap((g) => [g.eventIds, g.at]), groups.flatMap((g) => g.eventIds)],
      );
    } catch (err) {
      acked = [...groups, ...acked];
      ackedRows = acked.reduce((n, g) => n + g.eventIds.length, 0);
      throw err;
    }
  }

  return {
    acked(eventIds) {
      acked.push({ at: new Date(), eventIds });
      ackedRows += eventIds.length;
    },
    due: () => ackedRows >= batchSize || Date.now() >= dueAt(),
    dueAt,
    markAll,
  };
}
