/**
 * Reading a DLQ topic up to where it ends now, for `make dlq` and `make dlq-replay`: a short-lived
 * consumer that stops at the high watermark it found when it began, so a dead letter that arrives
 * meanwhile (a replay failing again) waits for the next run instead of being read in this one.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { toDeadLetter, type DeadLetter } from './dead-letters.js';
import { fetchLedger, isReplayed, partitionEnds, totalWaiting } from './dlq-ledger.js';

/** Offsets [from, to) of one partition. */
export interface ReadRange {
  partition: number;
  from: number;
  to: number;
}

export interface BatchControls {
  heartbeat(): Promise<void>;
  /** Commits `offset` (the next to read) for the partition, with metadata (the replay ledger). */
  commit(offset: number, metadata: string): Promise<void>;
}

export interface ReadOptions {
  kafka: Kafka;
  /** Where the read begins: this group's committed offset, else the partition's first message. */
  groupId: string;
  topic: string;
  ranges: ReadRange[];
  /** Each batch's messages within its range, in offset order. */
  onBatch(partition: number, messages: KafkaMessage[], batch: BatchControls): Promise<void>;
  /** Gives up when a batch takes longer than this to arrive (default 30 s). */
  stallMs?: number;
}

/** Reads every range to its end; commits nothing unless onBatch does. */
export async function readRanges({ kafka, groupId, topic, ranges, onBatch, stallMs = 30_000 }: ReadOptions) {
  const open = new Map(ranges.filter((r) => r.from < r.to).map((r) => [r.partition, r]));
  if (open.size === 0) return;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250, allowAutoTopicCreation: false });
  let progress = Date.now();
  let failure: unknown;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat }) => {
        const range = open.get(batch.partition);
        if (!range || failure !== undefined) return;
        progress = Date.now();
        const inRange = batch.messages.filter(
          (m) => Number(m.offset) >= range.from && Number(m.offset) < range.to,
        );
        try {
          const commit = (offset: number, metadata: string) =>
            consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(offset), metadata }]);
          if (inRange.length > 0) await onBatch(batch.partition, inRange, { heartbeat, commit });
        } catch (err) {
          failure ??= err;
        }
        if (Number(batch.lastOffset()) >= range.to - 1) open.delete(batch.partition);
      },
    });
    while (open.size > 0 && failure === undefined) {
      if (Date.now() - progress > stallMs)
        throw new Error(
          `${topic}: nothing read for ${stallMs / 1000} s, ${open.size} partition(s) short of their end`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
    if (failure !== undefined) throw failure;
  } finally {
    await consumer.disconnect();
  }
}

/** A dead letter, and whether it has been replayed. */
export interface ListedDeadLetter extends DeadLetter {
  replayed: boolean;
}

export interface DlqListing {
  dlqTopic: string;
  /** Every dead letter the topic holds, in partition and offset order. */
  letters: ListedDeadLetter[];
  /** How many of them wait for a replay. */
  waiting: number;
}

/**
 * Every dead letter a DLQ topic holds, each marked replayed or waiting. Read by a consumer group
 * of its own (`<replay group>-reader-<uuid>`) that commits nothing and is deleted afterwards.
 */
export async function listDeadLetters(
  kafka: Kafka,
  admin: Admin,
  replayGroup: string,
  dlqTopic: string,
): Promise<DlqListing> {
  const [ends, ledger] = await Promise.all([
    partitionEnds(admin, dlqTopic),
    fetchLedger(admin, replayGroup, dlqTopic),
  ]);
  const letters: ListedDeadLetter[] = [];
  const readerGroup = `${replayGroup}-reader-${randomUUID()}`;
  await readRanges({
    kafka,
    groupId: readerGroup,
    topic: dlqTopic,
    ranges: ends.map((p) => ({ partition: p.partition, from: p.low, to: p.high })),
    onBatch: async (partition, messages) => {
      for (const m of messages)
        letters.push({
          ...toDeadLetter(dlqTopic, partition, m),
          replayed: isReplayed(ledger.get(partition), Number(m.offset)),
        });
    },
  });
  await admin.deleteGroups([readerGroup]).catch(() => undefined);
  letters.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
  return { dlqTopic, letters, waiting: totalWaiting(ends, ledger) };
}
