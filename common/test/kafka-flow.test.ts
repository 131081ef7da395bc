import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Producer } from 'kafkajs';
import {
  createConsumerLoop,
  createKafka,
  createMetrics,
  createOutboxRelay,
  createProducer,
  dlqTopic,
  enqueueEvents,
  ensureTopics,
  allTopics,
  onEvent,
  onEvents,
  PoisonMessageError,
  runWithCorrelationId,
  topicName,
  type ConsumerLoopOptions,
  type Db,
  type Envelope,
  type OutboxRelay,
  type OutboxRelayOptions,
} from '@delivery/common';
import {
  TEST_KAFKA_BROKERS,
  captureLogger,
  createTestDatabase,
  deleteTestTopics,
  envelope,
  readTopic,
  testTopicPrefix,
  waitFor,
  type SeenMessage,
} from '@delivery/common/testing';

const { logger } = captureLogger();
const kafka = createKafka({ clientId: 'common-test', brokers: TEST_KAFKA_BROKERS, logger });

/** An order.created as order-service publishes it; the correlation id names the order. */
function placedEvent(orderId: number): Envelope<'order.created'> {
  return envelope(
    'order.created',
    {
      orderId,
      orderNumber: `ORD-${orderId}`,
      customerId: 1,
      city: 'Colombo',
      items: [{ productId: 101, price: '49.99', quantity: 2 }],
      totalAmount: '99.98',
    },
    { correlationId: `corr-${orderId}` },
  );
}

/** The flow's topics under a test namespace; the admin connection is closed whatever happens. */
async function createTopics(prefix: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, allTopics(prefix), partitions);
  } finally {
    await admin.disconnect();
  }
}

describe('consumer loop and outbox against the real broker', () => {
  const prefix = testTopicPrefix();
  const created = topicName(prefix, 'order.created');
  let producer: Producer;
  const extraPrefixes: string[] = [];

  /** A consumer loop of the test namespace's group `<prefix><name>`. */
  const loopOn = (
    topicPrefix: string,
    name: string,
    options: Pick<ConsumerLoopOptions, 'handlers'> & Partial<ConsumerLoopOptions>,
  ) =>
    createConsumerLoop({
      kafka,
      producer,
      groupId: `${topicPrefix}${name}`,
      topicPrefix,
      logger,
      metrics: createMetrics('test'),
      ...options,
    });

  /** An outbox relay over a fresh order database, polling every 50 ms unless told otherwise. */
  async function relayOnOrderDb(options: Partial<OutboxRelayOptions> = {}) {
    const testDb = await createTestDatabase(
      'common',
      fileURLToPath(new URL('../../migrations/order', import.meta.url)),
    );
    const relay = createOutboxRelay({
      db: testDb.db,
      producer,
      logger,
      metrics: createMetrics('test'),
      topicPrefix: prefix,
      pollIntervalMs: 50,
      ...options,
    });
    return { testDb, relay };
  }

  /**
   * A relay on its own order database and a reader of order.created that sees only `keys` (the
   * topic also holds the other tests' messages); everything is stopped and dropped afterwards.
   */
  async function withRelayAndReader(
    options: Partial<OutboxRelayOptions>,
    keys: readonly string[],
    body: (
      t: Awaited<ReturnType<typeof relayOnOrderDb>> & {
        ours: () => SeenMessage[];
        keysOnTopic: () => string[];
      },
    ) => Promise<void>,
  ) {
    const { testDb, relay } = await relayOnOrderDb(options);
    const reader = await readTopic(kafka, prefix, topicName(prefix, 'order.created'));
    const ours = () => reader.seen.filter((m) => keys.includes(m.key ?? ''));
    try {
      await body({
        testDb,
        relay,
        ours,
        keysOnTopic: () =>
          ours()
            .map((m) => m.key)
            .sort(),
      });
    } finally {
      await relay.stop();
      await reader.stop();
      await testDb.drop();
    }
  }

  /**
   * Asserts that each of `events` (order.created, keyed by order id) is on the topic once. That no
   * second copy is still on its way is shown, not waited for: a marker per key goes through the
   * relay after them (handed over, or left to the poll) and lands on its key's partition behind
   * whatever the relay sent before it, so once every marker is read any earlier copy was read too.
   */
  async function assertEachOnce(
    db: Db,
    relay: OutboxRelay,
    ours: () => SeenMessage[],
    events: Envelope<'order.created'>[],
    { hand }: { hand: boolean },
  ): Promise<void> {
    const markers = await db.transaction((trx) =>
      enqueueEvents(
        trx,
        events.map((e) => ({ type: 'order.created' as const, key: e.data.orderId, data: e.data })),
      ),
    );
    if (hand) relay.notify(markers);
    const idsOnTopic = () => ours().map((m) => (JSON.parse(m.value) as Envelope<'order.created'>).eventId);
    const markerIds = markers.envelopes.map((e) => e.eventId);
    await waitFor(() => markerIds.every((id) => idsOnTopic().includes(id)), { what: 'the markers' });
    assert.deepEqual(
      idsOnTopic().sort(),
      [...events, ...markers.envelopes].map((e) => e.eventId).sort(),
      'each event once',
    );
  }

  before(async () => {
    await createTopics(prefix, 3);
    producer = createProducer(kafka);
    await producer.connect();
  });
  after(async () => {
    await producer.disconnect();
    for (const p of [prefix, ...extraPrefixes]) await deleteTestTopics(p);
  });

  it('creates the topics and their DLQs', async () => {
    const admin = kafka.admin();
    await admin.connect();
    const topics = await admin.listTopics();
    await admin.disconnect();
    for (const t of allTopics(prefix)) assert.ok(topics.includes(t), `${t} exists`);
  });

  it('invalid messages go to the DLQ with the reason, and the next valid one is still handled', async () => {
    const handled: Envelope<'order.created'>[] = [];
    const loop = loopOn(prefix, 'dlq-group', {
      handlers: [onEvent('order.created', async (e) => void handled.push(e))],
    });
    const wrongVersion = { ...placedEvent(7), version: 2 };
    const good = placedEvent(8);
    await producer.send({
      topic: created,
      messages: [
        { key: '1', value: 'not json at all' },
        { key: '1', value: JSON.stringify({ type: 'order.created', data: {} }) },
        { key: '1', value: JSON.stringify(wrongVersion) },
        { key: '1', value: JSON.stringify(good) },
      ],
    });
    await loop.start();
    const dlq = await readTopic(kafka, prefix, `${created}.dlq`);
    try {
      await waitFor(() => handled.length === 1 && dlq.seen.length === 3, {
        what: 'one handled, three in DLQ',
      });
      assert.equal(handled[0]?.eventId, good.eventId);
      assert.deepEqual(
        dlq.seen.map((m) => m.headers['x-dlq-reason']),
        ['invalid_json', 'invalid_envelope', 'invalid_envelope'],
      );
      assert.equal(dlq.seen[0]?.value, 'not json at all');
      assert.match(dlq.seen[2]?.headers['x-dlq-error'] ?? '', /version/);
    } finally {
      await dlq.stop();
      await loop.stop();
    }
  });

  it('a transient handler failure is retried in place until it succeeds, nothing skipped', async () => {
    const prefix2 = testTopicPrefix();
    await createTopics(prefix2, 1);
    let failuresLeft = 3;
    const order: number[] = [];
    const loop = loopOn(prefix2, 'retry-group', {
      handlers: [
        onEvent('order.created', async (e) => {
          if (e.data.orderId === 1 && failuresLeft-- > 0) throw new Error('database is down');
          order.push(e.data.orderId);
        }),
      ],
      retry: { initialMs: 20, maxMs: 50 },
    });
    await producer.send({
      topic: topicName(prefix2, 'order.created'),
      messages: [1, 2, 3].map((id) => ({ key: 'same', value: JSON.stringify(placedEvent(id)) })),
    });
    await loop.start();
    try {
      await waitFor(() => order.length === 3, { what: 'three handled' });
      assert.deepEqual(order, [1, 2, 3]);
      assert.equal(failuresLeft, -1, 'the failing message was tried four times');
    } finally {
      await loop.stop();
      // Deleted after the producer disconnects: KafkaJS keeps refreshing metadata of topics it sent to.
      extraPrefixes.push(prefix2);
    }
  });

  /**
   * Order 1 of three events under one key fails its first `failures` attempts with `error(n)`;
   * at most 3 attempts may fail the same way.
   */
  const failureCases: { name: string; error: (attempt: number) => Error; failures: number; dlq: boolean }[] =
    [
      {
        name: 'a database-unavailable failure, more often than the bound, is retried until it succeeds and never sent to the DLQ',
        error: () =>
          Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), {
            code: 'ECONNREFUSED',
            fatal: true,
          }),
        failures: 6,
        dlq: false,
      },
      {
        name: 'a failure whose message differs on every attempt does not fail the same way: retried until it succeeds',
        error: (attempt) => new Error(`order-service answered 5${attempt}0`),
        failures: 6,
        dlq: false,
      },
      {
        name: 'a failure the same on every attempt goes to the DLQ after the bound, and the next event of its order is handled',
        error: () => new Error("Data too long for column 'order_number' at row 1"),
        failures: Infinity,
        dlq: true,
      },
    ];
  for (const c of failureCases)
    it(c.name, async () => {
      const prefixN = testTopicPrefix();
      await createTopics(prefixN, 1);
      const topic = topicName(prefixN, 'order.created');
      let attempts = 0;
      const handled: number[] = [];
      const metrics = createMetrics('test');
      const loop = loopOn(prefixN, 'failure-group', {
        handlers: [
          onEvent('order.created', async (e) => {
            if (e.data.orderId === 1 && attempts++ < c.failures) throw c.error(attempts);
            handled.push(e.data.orderId);
          }),
        ],
        metrics,
        retry: { initialMs: 20, maxMs: 50, sameFailureLimit: 3 },
      });
      await producer.send({
        topic,
        messages: [1, 2, 3].map((id) => ({ key: 'same', value: JSON.stringify(placedEvent(id)) })),
      });
      await loop.start();
      const dlq = await readTopic(kafka, prefixN, dlqTopic(topic));
      try {
        await waitFor(() => handled.length === (c.dlq ? 2 : 3), { what: 'the events handled' });
        const dlqCount = async () =>
          (await metrics.eventsConsumed.get()).values
            .filter((v) => v.labels.outcome === 'dlq')
            .reduce((sum, v) => sum + v.value, 0);
        if (c.dlq) {
          assert.deepEqual(handled, [2, 3], 'the rest of its key in order, after it');
          assert.equal(attempts, 3, 'given up after three attempts failing the same way');
          await waitFor(() => dlq.seen.length === 1, { what: 'the message in the DLQ' });
          const [dead] = dlq.seen;
          assert.equal((JSON.parse(dead!.value) as Envelope<'order.created'>).data.orderId, 1);
          assert.equal(dead!.headers['x-dlq-reason'], 'handler_failed');
          assert.match(dead!.headers['x-dlq-error'] ?? '', /Error: Data too long for column 'order_number'/);
          assert.equal(dead!.headers['x-dlq-attempts'], '3');
          assert.equal(dead!.headers['x-dlq-source'], `${topic}/0/0`);
          assert.equal(await dlqCount(), 1);
        } else {
          assert.deepEqual(handled, [1, 2, 3]);
          assert.equal(attempts, c.failures + 1, 'tried until it succeeded');
          // Sent before event 2 was handled if at all (one key's events go one after another).
          const admin = kafka.admin();
          await admin.connect();
          try {
            assert.deepEqual(
              (await admin.fetchTopicOffsets(dlqTopic(topic))).map((p) => p.high),
              ['0'],
              'nothing in the DLQ',
            );
          } finally {
            await admin.disconnect();
          }
          assert.equal(await dlqCount(), 0);
        }
      } finally {
        await dlq.stop();
        await loop.stop();
        extraPrefixes.push(prefixN);
      }
    });

  it('the relay publishes committed outbox rows with the envelope and correlation id, and nothing from a rollback', async () => {
    const { testDb, relay } = await relayOnOrderDb();
    const reader = await readTopic(kafka, prefix, topicName(prefix, 'order.confirmed'));
    try {
      const data = placedEvent(42).data;
      await runWithCorrelationId('req-outbox-1', () =>
        testDb.db.transaction((trx) => enqueueEvents(trx, [{ type: 'order.confirmed', key: 42, data }])),
      );
      await assert.rejects(
        testDb.db.transaction(async (trx) => {
          await enqueueEvents(trx, [{ type: 'order.confirmed', key: 43, data: { ...data, orderId: 43 } }]);
          throw new Error('business rule failed');
        }),
      );
      relay.start();
      relay.notify();
      await waitFor(() => reader.seen.length >= 1, { what: 'the event on the topic' });
      const pending = await testDb.db('outbox').whereNull('published_at').count({ n: '*' });
      assert.equal(Number(pending[0]?.n), 0);
      await relay.publishPending();
      assert.equal(reader.seen.length, 1, 'only the committed event');
      const msg = reader.seen[0]!;
      assert.equal(msg.key, '42');
      const published = JSON.parse(msg.value) as Envelope<'order.confirmed'>;
      assert.equal(published.type, 'order.confirmed');
      assert.equal(published.version, 1);
      assert.equal(published.correlationId, 'req-outbox-1');
      assert.deepEqual(published.data, data);
    } finally {
      await relay.stop();
      await reader.stop();
      await testDb.drop();
    }
  });
  it('a batch handler gets a fetched batch at once; when it fails it is halved until the failing event is alone, which goes on alone (here to the DLQ) ahead of the later events of its order', async () => {
    const prefix3 = testTopicPrefix();
    await createTopics(prefix3, 1);
    const calls: number[][] = [];
    const applied: number[] = [];
    const loop = loopOn(prefix3, 'batch-group', {
      handlers: [
        onEvents('order.created', async (events) => {
          const ids = events.map((e) => e.data.orderId);
          calls.push(ids);
          if (ids.includes(3)) throw new PoisonMessageError('order 3 cannot be applied');
          applied.push(...ids);
        }),
      ],
      retry: { initialMs: 20, maxMs: 50 },
    });
    const topic = topicName(prefix3, 'order.created');
    // Sent before the consumer starts, in one request: its first fetch returns them together.
    // Event 6 is keyed like event 3: a later event of the same order.
    await producer.send({
      topic,
      messages: [
        ...[1, 2, 3].map((id) => ({ key: String(id), value: JSON.stringify(placedEvent(id)) })),
        { key: '9', value: '{not json' },
        ...[4, 5].map((id) => ({ key: String(id), value: JSON.stringify(placedEvent(id)) })),
        { key: '3', value: JSON.stringify(placedEvent(6)) },
      ],
    });
    await loop.start();
    const dlq = await readTopic(kafka, prefix3, `${topic}.dlq`);
    try {
      await waitFor(() => applied.length === 5 && dlq.seen.length === 2, {
        what: 'five applied, two in the DLQ',
      });
      assert.deepEqual(
        calls,
        [[1, 2, 3, 4, 5, 6], [1, 2, 3], [1, 2], [3], [4, 5], [3], [6]],
        'the whole batch, then halves in offset order down to the failing event; it and the rest of its key alone',
      );
      assert.deepEqual(applied, [1, 2, 4, 5, 6]);
      assert.deepEqual(dlq.seen.map((m) => m.headers['x-dlq-reason']).sort(), [
        'invalid_json',
        'rejected_by_handler',
      ]);
      const poisoned = dlq.seen.find((m) => m.headers['x-dlq-reason'] === 'rejected_by_handler');
      assert.equal((JSON.parse(poisoned!.value) as Envelope<'order.created'>).data.orderId, 3);
    } finally {
      await dlq.stop();
      await loop.stop();
      extraPrefixes.push(prefix3);
    }
  });

  it('the relay sends what a commit hands over at once, and reads the table only for rows nobody handed over', async () => {
    // Polls every 50 ms, but only for rows a minute old: within the test a row gets that old only
    // when the test makes it so (created_at moved back), never by waiting.
    const keys = ['51', '52', '53'];
    await withRelayAndReader({ orphanAfterMs: 60_000 }, keys, async ({ testDb, relay, ours }) => {
      const published = async () =>
        (await testDb.db('outbox').whereNotNull('published_at').pluck('event_id')) as string[];
      relay.start();
      const handed = await testDb.db.transaction((trx) =>
        enqueueEvents(trx, [
          { type: 'order.created', key: 51, data: placedEvent(51).data, correlationId: 'corr-a' },
          { type: 'order.created', key: 52, data: placedEvent(52).data, correlationId: 'corr-b' },
        ]),
      );
      const [orphan] = (
        await testDb.db.transaction((trx) =>
          enqueueEvents(trx, [{ type: 'order.created', key: 53, data: placedEvent(53).data }]),
        )
      ).envelopes;
      relay.notify(handed);
      await waitFor(() => ours().length >= 2, { what: 'the two handed-over events' });
      assert.deepEqual(
        ours()
          .slice(0, 2)
          .map((m) => [m.key, (JSON.parse(m.value) as Envelope<'order.created'>).correlationId])
          .sort(),
        [
          ['51', 'corr-a'],
          ['52', 'corr-b'],
        ],
      );
      const handedIds = handed.envelopes.map((e) => e.eventId);
      await waitFor(async () => (await published()).filter((id) => handedIds.includes(id)).length === 2, {
        what: 'the handed-over rows marked published',
      });
      // The orphan was committed before the handed-over rows were sent and marked: had the fast
      // path read the table, it would have sent it then.
      assert.ok(!(await published()).includes(orphan!.eventId), 'the orphan waits for the poll');
      await testDb
        .db('outbox')
        .whereIn('message_key', keys)
        .update({ created_at: testDb.db.raw('created_at - INTERVAL 2 MINUTE') });
      await waitFor(async () => (await published()).includes(orphan!.eventId), {
        what: 'the orphan taken by the poll, once old enough',
      });
      // Marked published means the broker acknowledged it; the reader may fetch it a moment later.
      await waitFor(() => ours().some((m) => m.key === '53'), { what: 'the orphan on the topic' });
      await assertEachOnce(testDb.db, relay, ours, [...handed.envelopes, orphan!], { hand: true });
    });
  });
  it('fast-path rows are marked published together later, each with its acknowledgement time; stop() marks what waits', async () => {
    // Marking is due only after a minute here, and so is the first poll (which marks before it
    // reads): whatever gets marked before stop() was marked by something else.
    const options = { markEveryMs: 60_000, pollIntervalMs: 60_000, orphanAfterMs: 120_000 };
    const keys = ['61', '62', '63'];
    await withRelayAndReader(options, keys, async ({ testDb, relay, ours, keysOnTopic }) => {
      const updates: string[] = [];
      testDb.db.on('query', (q: { sql: string }) => {
        if (/^\s*UPDATE outbox/i.test(q.sql)) updates.push(q.sql);
      });
      const rows = () =>
        testDb
          .db('outbox')
          .whereIn('message_key', keys)
          .orderBy('id')
          .select('event_id', 'published_at') as Promise<{ event_id: string; published_at: Date | null }[]>;
      relay.start();
      let sent = 0;
      for (const key of [61, 62, 63]) {
        const handed = await testDb.db.transaction((trx) =>
          enqueueEvents(trx, [{ type: 'order.created', key, data: placedEvent(key).data }]),
        );
        relay.notify(handed);
        // One round per event: each is on the topic before the next is written.
        await waitFor(() => ours().length === sent + 1, { what: `event ${key} on the topic` });
        sent += 1;
      }
      assert.deepEqual(
        (await rows()).map((r) => r.published_at),
        [null, null, null],
        'sent and acknowledged, not marked yet',
      );
      assert.equal(updates.length, 0);
      const stoppedAt = Date.now();
      await relay.stop();
      const marked = await rows();
      assert.equal(updates.length, 1, 'one UPDATE for the three rounds');
      const times = marked.map((r, k) => {
        assert.ok(r.published_at, `row ${k} marked`);
        return r.published_at.getTime();
      });
      // One UPDATE, three times: each row's acknowledgement (DATETIME(3) keeps all of a Date), not NOW().
      assert.ok(
        times[0]! < times[1]! && times[1]! < times[2]!,
        `three rounds, three times: ${times.join(', ')}`,
      );
      assert.ok(times[2]! <= stoppedAt, 'acknowledged before stop()');
      assert.deepEqual(keysOnTopic(), keys, 'each event once');
    });
  });

  it('a poll marks the rows the fast path sent before it reads, so it never sends them again', async () => {
    // Every row older than 1 ms counts as an orphan here, and marking is not due for a minute:
    // only marking before the poll keeps the poll at 200 ms from sending the three again.
    const options = { markEveryMs: 60_000, pollIntervalMs: 200, orphanAfterMs: 1 };
    const keys = ['71', '72', '73'];
    await withRelayAndReader(options, keys, async ({ testDb, relay, ours }) => {
      relay.start();
      const handed = await testDb.db.transaction((trx) =>
        enqueueEvents(
          trx,
          [71, 72, 73].map((key) => ({ type: 'order.created' as const, key, data: placedEvent(key).data })),
        ),
      );
      relay.notify(handed);
      await waitFor(
        async () =>
          Number(
            (
              await testDb
                .db('outbox')
                .whereIn('message_key', keys)
                .whereNotNull('published_at')
                .count({ n: '*' })
            )[0]?.n,
          ) === 3,
        { what: 'the three marked by the first poll' },
      );
      // Markers nobody hands over: only a later poll sends them, so seeing them means polls ran
      // after the marking, and any second copy they sent is ahead of them on its partition.
      await assertEachOnce(testDb.db, relay, ours, handed.envelopes, { hand: false });
    });
  });

  it('stop() commits what was handled: the group, started again, goes on after it and handles nothing twice', async () => {
    const prefix4 = testTopicPrefix();
    await createTopics(prefix4, 2);
    const handled: number[] = [];
    const makeLoop = () =>
      loopOn(prefix4, 'commit-group', {
        handlers: [onEvent('order.created', async (e) => void handled.push(e.data.orderId))],
        // Far longer than the test: only the commit on stop can save the offsets.
        commitIntervalMs: 600_000,
      });
    const topic = topicName(prefix4, 'order.created');
    // One send per partition. A send that fails on one partition of a just-created topic ("not the
    // leader") is sent again whole (kafkajs-send-fix.ts), which would write the other partition's
    // messages twice; alone, a partition's retry repeats only what was not written.
    const send = async (byPartition: number[][]) => {
      for (const [partition, ids] of byPartition.entries())
        await producer.send({
          topic,
          messages: ids.map((id) => ({ key: String(id), partition, value: JSON.stringify(placedEvent(id)) })),
        });
    };
    const admin = kafka.admin();
    await admin.connect();
    const messagesOnTopic = async () =>
      (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
    try {
      await send([
        [1, 3],
        [2, 4],
      ]);
      const first = makeLoop();
      await first.start();
      try {
        const held = await messagesOnTopic();
        await waitFor(() => handled.length >= held, { what: `the ${held} messages handled` });
      } finally {
        await first.stop();
      }
      // One new event on each partition: the second run must read both up to their ends.
      await send([[5], [6]]);
      const second = makeLoop();
      await second.start();
      try {
        const held = await messagesOnTopic();
        await waitFor(() => handled.length >= held, { what: 'the two new ones handled' });
      } finally {
        await second.stop();
        extraPrefixes.push(prefix4);
      }
      // stop() committed what the second run handled, and a commit never passes a message not
      // handled: at the end of both partitions, every message before it (the old ones again, had
      // the group been rewound) was handled before judging. No waiting for time.
      const [committed] = await admin.fetchOffsets({ groupId: `${prefix4}commit-group`, topics: [topic] });
      const ends = await admin.fetchTopicOffsets(topic);
      assert.deepEqual(
        committed!.partitions.map((p) => [p.partition, p.offset]).sort(),
        ends.map((p) => [p.partition, p.high]).sort(),
        'committed at the end of each partition',
      );
      assert.equal(await messagesOnTopic(), 6, 'the topic holds each of the six events once');
    } finally {
      await admin.disconnect();
    }
    assert.deepEqual([...handled].sort(), [1, 2, 3, 4, 5, 6]);
  });
});
