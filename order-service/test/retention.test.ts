import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createRetentionJob, outboxAndDedupRules, type RetentionJob } from '@delivery/common';
import { listen, type TestRuntime } from '@delivery/common/testing';
import { createApp } from '../src/app.js';
import { applyInventoryResults } from '../src/orders/apply-inventory-result.js';
import { createOrderRuntime, inventoryUpdated, placeOrder as placeFixtureOrder } from './support.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('retention job: outbox and processed_events stay bounded', () => {
  let rt: TestRuntime;
  let server: Awaited<ReturnType<typeof listen>>;
  let job: RetentionJob;

  before(async () => {
    rt = await createOrderRuntime();
    server = await listen(createApp(rt));
    // A batch of 2, so a handful of rows takes several statements.
    job = createRetentionJob(
      { db: rt.db, logger: rt.logger, registry: rt.metrics.registry },
      outboxAndDedupRules(rt.config),
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

  async function processedRow(agoMs: number): Promise<string> {
    const eventId = randomUUID();
    await rt.db('processed_events').insert({
      event_id: eventId,
      topic: 'order.inventory.updated',
      processed_at: rt.db.raw('NOW(3) - INTERVAL ? MICROSECOND', [agoMs * 1_000]),
    });
    return eventId;
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

  it('deletes processed_events older than DEDUP_RETENTION; younger ones stay', async () => {
    const keep = rt.config.DEDUP_RETENTION;
    const old = await Promise.all([1, 2, 3].map(() => processedRow(keep + HOUR)));
    const young = await processedRow(keep - HOUR);

    const removed = await job.runOnce();

    const left = (await rt
      .db('processed_events')
      .whereIn('event_id', [...old, young])
      .pluck('event_id')) as string[];
    assert.deepEqual(left, [young]);
    assert.equal(removed.processed_events, 3);
  });

  const placeOrder = () => placeFixtureOrder(server.url);
  const skippedAsDuplicate = (eventId: string) =>
    rt.lines.some(
      (l) => l.eventId === eventId && l.msg === 'order.inventory.updated already applied; skipped',
    );

  /** An order's RESERVED applied, its processed_events row aged `ageMs`, the job run, the event again. */
  async function redeliverAfter(ageMs: number) {
    const order = await placeOrder();
    const reserved = inventoryUpdated(order, 'RESERVED');
    await applyInventoryResults(rt, [reserved]);
    await rt
      .db('processed_events')
      .where({ event_id: reserved.eventId })
      .update({ processed_at: rt.db.raw('NOW(3) - INTERVAL ? MICROSECOND', [ageMs * 1_000]) });
    await job.runOnce();
    await applyInventoryResults(rt, [reserved]);
    return { order, reserved };
  }

  it('an event redelivered within DEDUP_RETENTION, after the job ran, is still recognised as a duplicate', async () => {
    // Processed just short of the window: the job must leave its row.
    const { order, reserved } = await redeliverAfter(rt.config.DEDUP_RETENTION - HOUR);

    assert.ok(skippedAsDuplicate(reserved.eventId), 'the redelivery is skipped as already applied');
    const confirmed = await rt
      .db('outbox')
      .where({ topic: 'order.confirmed', message_key: String(order.id) });
    assert.equal(confirmed.length, 1, 'one order.confirmed');
  });

  it('an event redelivered after its row aged out is no longer recognised: why DEDUP_RETENTION must outlast the topic', async () => {
    const { reserved } = await redeliverAfter(rt.config.DEDUP_RETENTION + HOUR);

    assert.equal(skippedAsDuplicate(reserved.eventId), false, 'not recognised as a duplicate');
  });
});
