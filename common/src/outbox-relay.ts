import type { Producer } from 'kafkajs';
import type { Knex } from 'knex';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { Enqueued } from './outbox.js';
import { registerBacklogGauge } from './outbox-backlog.js';
import { fastPath } from './outbox-fast-path.js';
import { publishedMarks } from './outbox-marks.js';
import { orphanPoll } from './outbox-orphans.js';
import { outboxSender } from './outbox-sender.js';

export interface OutboxRelayOptions {
  db: Knex;
  producer: Producer;
  logger: Logger;
  metrics: Metrics;
  topicPrefix: string;
  batchSize?: number;
  /** How often the table is read for rows no process handed over (written by a process that died). */
  pollIntervalMs?: number;
  /** A polled row must be this old: younger ones are still on their way through a process's fast path. */
  orphanAfterMs?: number;
  /**
   * Rows sent by the fast path are marked published together, at most this long after the broker
   * acknowledged them (with the time it did): one UPDATE for many rounds, and at low rates one a
   * second instead of one per event. A crash loses at most this much marking: those rows are
   * sent again by the next poll (consumers are idempotent). Every poll marks first, so a row
   * waiting for its mark is never taken for an orphan.
   */
  markEveryMs?: number;
}

export interface OutboxRelay {
  start(): void;
  /**
   * Call after committing a transaction that enqueued events. Given what enqueueEvents returned,
   * the relay sends it at once from memory; without, it reads the table now.
   */
  notify(committed?: Enqueued): void;
  /** Publish every pending row of the table, once; returns how many rows were published. */
  publishPending(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Publishes the outbox. Fast path: a committing caller hands over what it wrote and the relay
 * sends it straight away, together with whatever else was handed over meanwhile (one produce
 * request per round, however many events); the rows are marked published in one UPDATE for all
 * rounds of the last `markEveryMs` (an event costs its table no statement of its own).
 * Safety net: every `pollIntervalMs` the table is read for rows older than `orphanAfterMs` that
 * are still unpublished (a crash between commit and send, a failed send, another process's rows).
 * A row can be sent twice (fast path and a poll racing); consumers are idempotent. Nothing is
 * ever marked published before the broker acknowledged it.
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, producer, metrics, topicPrefix, batchSize = 500, pollIntervalMs = 1_000 } = options;
  const { orphanAfterMs = 2_000, markEveryMs = 1_000 } = options;
  const log = options.logger.child({ module: 'outbox-relay' });
  registerBacklogGauge(db, metrics);
  const send = outboxSender(producer, metrics, topicPrefix);
  const marks = publishedMarks(db, markEveryMs, batchSize);
  const fresh = fastPath(send, marks, batchSize);
  const orphans = orphanPoll(db, send, batchSize);
  const pause = wakeableSleep();
  let running = false;
  let loop: Promise<void> | undefined;
  let pollNow = false;
  let lastPoll = 0;
  let failures = 0;

  async function round(): Promise<void> {
    if (fresh.hasWaiting()) await fresh.sendNext();
    const polling = pollNow || failures > 0 || Date.now() - lastPoll >= pollIntervalMs;
    // Before any poll: a row sent but not yet marked must not look like an orphan (a send that
    // took longer than orphanAfterMs).
    if (polling || marks.due()) await marks.markAll();
    if (!polling) return;
    const explicit = pollNow;
    pollNow = false;
    lastPoll = Date.now();
    // After a failure our own fast-path rows were dropped to the table: take them at any age.
    await orphans.publishAll(explicit || failures > 0 ? 0 : orphanAfterMs);
  }

  async function run(): Promise<void> {
    while (running) {
      try {
        await round();
        if (failures > 0) log.info({ failures }, 'outbox relay recovered');
        failures = 0;
      } catch (err) {
        failures += 1;
        // Kafka or the database is down: keep the rows, back off, try again.
        if (failures === 1 || failures % 20 === 0)
          log.warn({ err, failures }, 'outbox publish failed; will retry');
      }
      if (!running) break;
      if (failures > 0) await pause.sleep(Math.min(5_000, 250 * 2 ** Math.min(failures, 5)));
      else if (!fresh.hasWaiting() && !pollNow)
        await pause.sleep(Math.max(1, Math.min(lastPoll + pollIntervalMs, marks.dueAt()) - Date.now()));
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      lastPoll = Date.now();
      loop = run();
    },
    notify(committed) {
      if (committed === undefined) pollNow = true;
      else fresh.hand(committed.messages);
      // While the broker is down the backoff decides; the poll will take the rows.
      if (failures > 0) {
        fresh.drop();
        return;
      }
      pause.wake();
    },
    publishPending: () => orphans.publishAll(0),
    async stop() {
      running = false;
      pause.wake();
      await loop;
      // Send what was handed over; if that fails the rows wait in the table for the next poll.
      if (failures === 0) await fresh.sendAll().catch(() => (failures += 1));
      await marks
        .markAll()
        .catch((err: unknown) =>
          log.warn({ err }, 'could not mark sent outbox rows published; the next poll sends them again'),
        );
    },
  };
}

/** The relay's idle wait: notify() and stop() cut it short. */
function wakeableSleep() {
  let wake: (() => void) | undefined;
  return {
    sleep(ms: number): Promise<void> {
      return new Promise((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    },
    wake: () => wake?.(),
  };
}
