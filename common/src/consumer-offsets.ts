import type { Consumer, KafkaMessage } from 'kafkajs';
import type { Logger } from './logger.js';

/**
 * Offsets are committed by us, at most every `commitIntervalMs` and once more on stop, not by
 * KafkaJS after every partition's batch (a broker round trip each, most of them redundant
 * under load). Only offsets of handled messages are ever recorded here, so a crash loses
 * nothing: at worst the last interval's events are delivered again, and every handler is
 * idempotent.
 */
export interface OffsetCommits {
  /** Records how far a fetched batch is handled: up to its first message not `done`. */
  recordHandled(
    topic: string,
    partition: number,
    messages: KafkaMessage[],
    done: boolean[],
    resolveOffset: (offset: string) => void,
  ): void;
  /** Commits what was recorded since the last commit; a failure keeps it for the next one. */
  commit(): Promise<void>;
  commitEvery(intervalMs: number): void;
  stopTimer(): void;
}

export function offsetCommits(consumer: Consumer, log: Logger): OffsetCommits {
  const toCommit = new Map<string, { topic: string; partition: number; offset: string }>();
  let commitTimer: NodeJS.Timeout | undefined;

  async function commit(): Promise<void> {
    if (toCommit.size === 0) return;
    const offsets = [...toCommit.values()];
    toCommit.clear();
    try {
      await consumer.commitOffsets(offsets);
    } catch (err) {
      // Kept for the next round unless a later offset of the partition arrived meanwhile.
      for (const o of offsets) {
        const key = `${o.topic}/${o.partition}`;
        if (!toCommit.has(key)) toCommit.set(key, o);
      }
      log.warn({ err }, 'offset commit failed; will retry');
    }
  }

  return {
    recordHandled(topic, partition, messages, done, resolveOffset) {
      // Commit up to the first message not done: everything before it is handled, nothing after it is lost.
      let last = -1;
      while (last + 1 < messages.length && done[last + 1]) last += 1;
      if (last < 0) return;
      const offset = messages[last]!.offset;
      resolveOffset(offset);
      // Kafka's committed offset is the next one to read.
      toCommit.set(`${topic}/${partition}`, { topic, partition, offset: (BigInt(offset) + 1n).toString() });
    },
    commit,
    commitEvery(intervalMs) {
      commitTimer = setInterval(() => void commit(), intervalMs);
    },
    stopTimer() {
      clearInterval(commitTimer);
    },
  };
}
