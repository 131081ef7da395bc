import type { Knex } from 'knex';
import type { SendOutboxMessages } from './outbox-sender.js';

interface OutboxRow {
  id: number;
  event_id: string;
  topic: string;
  message_key: string;
  payload: string;
}

/** Safety net: rows nobody handed over (or that failed), oldest first, locked while sent. */
export interface OrphanPoll {
  /** Publishes the unpublished rows at least `minAgeMs` old; returns how many it published. */
  publishAll(minAgeMs: number): Promise<number>;
}

export function orphanPoll(db: Knex, send: SendOutboxMessages, batchSize: number): OrphanPoll {
  async function publishBatch(minAgeMs: number): Promise<number> {
    const { where, bindings } = pending(minAgeMs);
    // With the fast path there is almost never an orphan: one plain read says so, instead of a
    // locking transaction (three statements) every poll of every service.
    const [probe] = (await db.raw(`SELECT 1 FROM outbox WHERE ${where} LIMIT 1`, bindings)) as [unknown[]];
    if (probe.length === 0) return 0;
    // READ COMMITTED (every connection's level, see db.ts): no gap locks, so writers adding
    // outbox rows are never blocked by the relay.
    return db.transaction(async (trx) => {
      const [rows] = (await trx.raw(
        `SELECT id, event_id, topic, message_key, payload FROM outbox WHERE ${where}
         ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
        [...bindings, batchSize],
      )) as [OutboxRow[]];
      if (rows.length === 0) return 0;
      await send(
        rows.map((r) => ({ eventId: r.event_id, type: r.topic, key: r.message_key, payload: r.payload })),
      );
      await trx.raw('UPDATE outbox SET published_at = NOW(3) WHERE id IN (?)', [rows.map((r) => r.id)]);
      return rows.length;
    });
  }

  return {
    async publishAll(minAgeMs) {
      let total = 0;
      for (;;) {
        const n = await publishBatch(minAgeMs);
        total += n;
        if (n < batchSize) return total;
      }
    },
  };
}

/** Unpublished rows at least `minAgeMs` old, oldest first: the poll's filter. */
function pending(minAgeMs: number) {
  return {
    where: `published_at IS NULL ${minAgeMs > 0 ? 'AND created_at < NOW(3) - INTERVAL ? MICROSECOND' : ''}`,
    bindings: minAgeMs > 0 ? [minAgeMs * 1_000] : [],
  };
}
