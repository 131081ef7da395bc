/**
 * Which dead letters have been replayed, kept by Kafka itself: the committed offsets of one
 * consumer group, `<prefix>dlq-replay`, on the DLQ topics. On each partition every dead letter
 * below the committed offset (the cursor) has been replayed; those above it that were replayed
 * one at a time (`make dlq-replay ID=…`) are listed in the commit's metadata, e.g. `17-19,23`.
 * Nothing but the replay tool commits for that group, and no service's consumer group is
 * touched. A DLQ's depth, the dead letters not replayed yet, follows from offsets alone.
 */
import type { Admin } from 'kafkajs';

/** The consumer group whose offsets record the replays of every DLQ of a topic namespace. */
export function replayGroupId(topicPrefix: string): string {
  return `${topicPrefix}dlq-replay`;
}

/** One DLQ partition's record: everything below `cursor` replayed, and `replayed` above it. */
export interface PartitionLedger {
  cursor: number;
  replayed: Set<number>;
}

/** The offsets a partition holds now: [low, high). */
export interface PartitionEnds {
  partition: number;
  low: number;
  high: number;
}

/** Kafka keeps at most offset.metadata.max.bytes (4,096 by default) of metadata per partition. */
export const MAX_LEDGER_METADATA = 3_500;

/** `[17, 18, 19, 23]` → `17-19,23`. */
export function encodeReplayed(offsets: Iterable<number>): string {
  const sorted = [...new Set(offsets)].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    runs.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return runs.join(',');
}

export function decodeReplayed(metadata: string | null | undefined): Set<number> {
  const offsets = new Set<number>();
  for (const run of (metadata ?? '').split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(run.trim());
    if (!match) continue;
    const from = Number(match[1]);
    for (let o = from; o <= Number(match[2] ?? from); o++) offsets.add(o);
  }
  return offsets;
}

export async function partitionEnds(admin: Admin, topic: string): Promise<PartitionEnds[]> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets
    .map((p) => ({ partition: p.partition, low: Number(p.low), high: Number(p.high) }))
    .sort((a, b) => a.partition - b.partition);
}

/** The replay group's record of one DLQ topic, by partition (cursor 0 where it has none). */
export async function fetchLedger(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<Map<number, PartitionLedger>> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const ledger = new Map<number, PartitionLedger>();
  for (const p of committed?.partitions ?? []) {
    const cursor = Number(p.offset);
    ledger.set(p.partition, {
      cursor: cursor < 0 ? 0 : cursor,
      replayed: cursor < 0 ? new Set() : decodeReplayed(p.metadata),
    });
  }
  return ledger;
}

export function isReplayed(record: PartitionLedger | undefined, offset: number): boolean {
  return record !== undefined && (offset < record.cursor || record.replayed.has(offset));
}

/**
 * The record after a partition was read from its cursor up to `next` (the first offset not
 * read): the cursor moves to the first dead letter that is still waiting (`kept`), or to `next`.
 */
export function advanceLedger(
  record: PartitionLedger | undefined,
  replayedNow: Iterable<number>,
  kept: readonly number[],
  next: number,
): PartitionLedger {
  const cursor = kept.length > 0 ? Math.min(...kept) : next;
  const replayed = new Set([...(record?.replayed ?? []), ...replayedNow].filter((o) => o >= cursor));
  return { cursor, replayed };
}

/** Dead letters of one partition not replayed yet: those the topic still holds, less the replayed. */
export function waitingCount(ends: PartitionEnds, record: PartitionLedger | undefined): number {
  const from = Math.max(ends.low, record?.cursor ?? 0);
  if (from >= ends.high) return 0;
  let replayed = 0;
  for (const o of record?.replayed ?? []) if (o >= from && o < ends.high) replayed++;
  return ends.high - from - replayed;
}

export function totalWaiting(ends: PartitionEnds[], ledger: Map<number, PartitionLedger>): number {
  return ends.reduce((sum, p) => sum + waitingCount(p, ledger.get(p.partition)), 0);
}

/** The dead letters of a DLQ topic not replayed yet, from offsets alone (no message is read). */
export async function measureWaiting(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [ends, ledger] = await Promise.all([partitionEnds(admin, topic), fetchLedger(admin, groupId, topic)]);
  return totalWaiting(ends, ledger);
}
