/**
 * `make dlq-replay`: sends the dead letters of a DLQ back to their topic once their cause is
 * fixed. Each goes with its key and value unchanged (so its event id: an idempotent consumer that
 * had applied it skips it) and two headers, `x-replayed-from` and `x-replay-count`, by which the
 * consumer loop logs it as a replay and sends it straight back to the DLQ if it fails again.
 * What was replayed is recorded in the replay group's offsets (dlq-ledger.ts) after each batch:
 * running the command again replays nothing twice. A crash between a send and its record replays
 * that message once more on the next run, which the consumers' idempotency makes harmless.
 */
import type { Admin, Kafka, Producer } from 'kafkajs';
import { REPLAY_HEADERS, toDeadLetter, type DeadLetter } from './dead-letters.js';
import {
  MAX_LEDGER_METADATA,
  advanceLedger,
  encodeReplayed,
  fetchLedger,
  isReplayed,
  partitionEnds,
  totalWaiting,
  type PartitionLedger,
} from './dlq-ledger.js';
import { readRanges } from './dlq-reader.js';

export interface ReplayOptions {
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
  /** replayGroupId(prefix): whose offsets record what was replayed. */
  replayGroup: string;
  /** `<topic>.dlq`, with the namespace prefix. */
  dlqTopic: string;
  /** Only the dead letters of this event id, or the one at `<partition>/<offset>`; default all. */
  id?: string;
  /** Record them as dealt with without sending them (garbage that can never apply): `make dlq-discard`. */
  discard?: boolean;
}

export interface ReplayResult {
  dlqTopic: string;
  /** Where they were sent. */
  topic: string;
  /** Sent back, or with `discard` only recorded. */
  replayed: DeadLetter[];
  /** Dead letters still waiting: not selected, or dead-lettered while this ran. */
  waiting: number;
}

/** What one partition's read has found so far: replayed now, and left waiting. */
interface PartitionRun {
  record: PartitionLedger | undefined;
  now: number[];
  kept: number[];
}

export async function replayDeadLetters(options: ReplayOptions): Promise<ReplayResult> {
  const { kafka, admin, producer, replayGroup, dlqTopic, id, discard = false } = options;
  if (!dlqTopic.endsWith('.dlq')) throw new Error(`${dlqTopic} is not a DLQ topic (<topic>.dlq)`);
  const topic = dlqTopic.slice(0, -'.dlq'.length);
  await refuseConcurrentReplay(admin, replayGroup);
  const [ends, ledger] = await Promise.all([
    partitionEnds(admin, dlqTopic),
    fetchLedger(admin, replayGroup, dlqTopic),
  ]);
  const runs = new Map<number, PartitionRun>(
    ends.map((p) => [p.partition, { record: ledger.get(p.partition), now: [], kept: [] }]),
  );
  const replayed: DeadLetter[] = [];
  await readRanges({
    kafka,
    groupId: replayGroup,
    topic: dlqTopic,
    ranges: ends.map((p) => ({
      partition: p.partition,
      from: Math.max(p.low, ledger.get(p.partition)?.cursor ?? 0),
      to: p.high,
    })),
    onBatch: async (partition, messages, { heartbeat, commit }) => {
      const run = runs.get(partition)!;
      let read = Number(messages[0]!.offset);
      try {
        for (const message of messages) {
          const offset = Number(message.offset);
          if (!isReplayed(run.record, offset)) {
            const letter = toDeadLetter(dlqTopic, partition, message);
            if (id === undefined || id === letter.eventId || id === `${partition}/${offset}`) {
              refuseOversizedLedger(run, offset);
              if (!discard) await producer.send({ topic, acks: -1, messages: [replayMessage(letter)] });
              run.now.push(offset);
              replayed.push(letter);
              await heartbeat();
            } else run.kept.push(offset);
          }
          read = offset + 1;
        }
      } finally {
        // Also after a failure: what was sent is recorded, the rest is read again next time.
        const next = advanceLedger(run.record, run.now, run.kept, read);
        await commit(next.cursor, encodeReplayed(next.replayed));
      }
    },
  });
  const after = await fetchLedger(admin, replayGroup, dlqTopic);
  return { dlqTopic, topic, replayed, waiting: totalWaiting(await partitionEnds(admin, dlqTopic), after) };
}

/** The dead letter as it goes back to its topic: key and value as they were, marked as a replay. */
function replayMessage(letter: DeadLetter) {
  return {
    key: letter.key,
    value: letter.value,
    headers: {
      [REPLAY_HEADERS.from]: `${letter.dlqTopic}/${letter.partition}/${letter.offset}`,
      [REPLAY_HEADERS.count]: String(letter.replays + 1),
    },
  };
}

/**
 * Two replays of one namespace at once would share out the partitions and each record only its
 * own: refused while the replay group has a member (one that crashed leaves within 30 s).
 */
async function refuseConcurrentReplay(admin: Admin, replayGroup: string): Promise<void> {
  const { groups } = await admin.describeGroups([replayGroup]);
  const members = groups[0]?.members.length ?? 0;
  if (members > 0)
    throw new Error(
      `another replay is running (consumer group ${replayGroup} has ${members} member(s)); try again when it is done`,
    );
}

/** Dead letters replayed one by one above the cursor are listed in the offset metadata, which Kafka bounds. */
function refuseOversizedLedger(run: PartitionRun, offset: number): void {
  const next = advanceLedger(run.record, [...run.now, offset], run.kept, offset + 1);
  if (encodeReplayed(next.replayed).length > MAX_LEDGER_METADATA)
    throw new Error(
      'too many dead letters replayed one at a time on this partition: replay the whole topic (no ID)',
    );
}
