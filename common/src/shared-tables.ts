import type { Knex } from 'knex';

/**
 * Tables every service that publishes or consumes needs, defined once. Service migrations
 * call these so the outbox and the processed-events table are the same everywhere.
 */
export async function createOutboxTable(db: Knex): Promise<void> {
  await db.schema.createTable('outbox', (t) => {
    t.bigIncrements('id');
    t.string('event_id', 36).notNullable().unique();
    t.string('topic', 200).notNullable();
    t.string('message_key', 100).notNullable();
    t.text('payload', 'mediumtext').notNullable();
    t.datetime('created_at', { precision: 3 }).notNullable().defaultTo(db.fn.now(3));
    t.datetime('published_at', { precision: 3 }).nullable();
    // The relay reads pending rows oldest first.
    t.index(['published_at', 'id'], 'outbox_pending_idx');
  });
}

export async function dropOutboxTable(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('outbox');
}

/** Consumed event ids, written in the same transaction as the event's effect: a redelivery is a no-op. */
export async function createProcessedEventsTable(db: Knex): Promise<void> {
  await db.schema.createTable('processed_events', (t) => {
    t.string('event_id', 36).primary();
    t.string('topic', 200).notNullable();
    t.datetime('processed_at', { precision: 3 }).notNullable().defaultTo(db.fn.now(3));
  });
}

export async function dropProcessedEventsTable(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('processed_events');
}

/** The first migration of every service: the outbox and the processed-events table. */
export const baseTablesMigration = {
  async up(db: Knex): Promise<void> {
    await createOutboxTable(db);
    await createProcessedEventsTable(db);
  },
  async down(db: Knex): Promise<void> {
    await dropProcessedEventsTable(db);
    await dropOutboxTable(db);
  },
};

/**
 * The retention job deletes processed_events rows by age, a batch at a time
 * (`WHERE processed_at < … ORDER BY processed_at LIMIT 1000`): without this index each batch
 * would scan, and lock, the whole table.
 */
export async function addProcessedEventsAgeIndex(db: Knex): Promise<void> {
  await db.schema.alterTable('processed_events', (t) => {
    t.index(['processed_at'], 'processed_events_processed_at_idx');
  });
}

/**
 * The down of a migration that dropped processed_events where the age index had been added: the
 * table as it was. (The consumers are idempotent by their own rows now; nothing writes it.)
 */
export async function restoreProcessedEventsTable(db: Knex): Promise<void> {
  await createProcessedEventsTable(db);
  await addProcessedEventsAgeIndex(db);
}

export async function dropProcessedEventsAgeIndex(db: Knex): Promise<void> {
  await db.schema.alterTable('processed_events', (t) => {
    t.dropIndex(['processed_at'], 'processed_events_processed_at_idx');
  });
}
