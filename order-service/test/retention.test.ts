import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createRetentionJob, outboxRule, type RetentionJob } from '@delivery/common';
import { listen, type TestRuntime } from '@delivery/common/testing';
import { createApp } from '../src/app.js';
import { applyInventoryResults } from '../src/orders/apply-inventory-result.js';
import { createOrderRuntime, inventoryUpdated, placeOrder as placeFixtureOrder } from './support.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('retention job: the outbox stays bounded', () => {
  let rt: TestRuntime;
  let server: Awaited<ReturnType<typeof listen>>;
  let job: RetentionJob;

  before(async () => {
    rt = await createOrderRuntime();
    server = await listen(createApp(rt));
    // A batch of 2, so a handful of rows takes several statements.
    job = createRetentionJob(
      { db: rt.db, logger: rt.logger, registry: rt.metrics.registry },
      [outboxRule(rt.config)],
      { batch: 2, pauseMs: 0 },
    );
  });
  after(async () => {
    await job?.stop();
    await server?.close();
    await rt?.close();
  });

  /** An outbox row created and published (or not) this long ago. */
  async function outboxRow(createdAgoMs: number, publishedAgoMs: number | null): Promise<number> {
    const [id] = await rt.db('outbox').insert({
      event_id: randomUUID(),
      topic: 'order.created',
      message_key: '1',
      payload: '{}',
      created_at: rt.db.raw('NOW(3) - INTERVAL ? MICROSECOND', [createdAgoMs * 1_000]),
      published_at:
        publishedAgoMs === null
          ? null
          : rt.db.raw('NOW(3) - INTERVAL ? MICROSECOND', [publishedAgoMs * 1_000]),
    });
    return id!;
  }

  const metric = async (name: string, table: string) =>
    (await rt.metrics.registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.table === table)
      ?.value;

  it('deletes published outbox rows older than OUTBOX_RETENTION; unpublished old rows and young published rows stay', async () => {
    const keep = rt.config.OUTBOX_RETENTION;
    const old = await Promise.all([1, 2, 3, 4, 5].map(() => outboxRow(30 * DAY, keep + HOUR)));
    const unpublished = await outboxRow(30 * DAY, null);
    // Created long ago but published recently: its age counts from publication.
    const youngPublished = await outboxRow(30 * DAY, keep - HOUR);
    const deletedBefore = (await metric('retention_deleted_rows_total', 'outbox')) ?? 0;

    const removed = await job.runOnce();

    const left = (await rt
      .db('outbox')
      .whereIn('id', [...old, unpublished, youngPublished])
      .orderBy('id')
      .pluck('id')) as number[];
    assert.deepEqual(left, [unpublished, youngPublished]);
    assert.equal(removed.outbox, 5, 'the five old published rows, over three batches of 2');
    assert.equal((await metric('retention_deleted_rows_total', 'outbox')) ?? 0, deletedBefore + 5);
    assert.equal(typeof (await metric('table_rows', 'outbox')), 'number', 'a row-count gauge per table');
    assert.ok(rt.lines.some((l) => l.msg === 'old rows deleted' && l.module === 'retention'));
  });

  it('an event redelivered long after, once the job ran, still changes nothing: the order status, not a kept event id, is the dedup', async () => {
    const order = await placeFixtureOrder(server.url);
    const reserved = inventoryUpdated(order, 'RESERVED');
    await applyInventoryResults(rt, [reserved]);
    await rt
      .db('outbox')
      .whereNull('published_at')
      .update({ published_at: rt.db.raw('NOW(3) - INTERVAL 400 DAY') });
    await job.runOnce();
    await applyInventoryResults(rt, [reserved]);

    const confirmed = await rt
      .db('outbox')
      .where({ topic: 'order.confirmed', message_key: String(order.id) });
    assert.equal(confirmed.length, 0, 'the first order.confirmed aged out, and the repeat wrote none');
    assert.ok(
      rt.lines.some(
        (l) =>
          l.eventId === reserved.eventId &&
          l.msg === 'order.inventory.updated RESERVED ignored: order is CONFIRMED',
      ),
    );
  });
});
