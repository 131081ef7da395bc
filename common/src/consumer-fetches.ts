import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import type { BatchHandler, BatchPath } from './consumer-batches.js';
import type { Delivery } from './consumer-messages.js';
import { envelopeFields, replayOf } from './dead-letters.js';
import type { Logger } from './logger.js';
import type { OffsetCommits } from './consumer-offsets.js';
import type { EventHandler } from './event-handlers.js';
import type { Slots } from './slots.js';

export interface FetchParts {
  byTopic: ReadonlyMap<string, EventHandler>;
  inFlight: Slots;
  handleAsBatch: BatchPath;
  handleMessage(delivery: Delivery): Promise<void>;
  offsets: OffsetCommits;
  log: Logger;
}

/**
 * One partition's fetched batch: the batch path first when the handler has one, then what it
 * left undone one message at a time, one chain per key (see createConsumerLoop); then the
 * offset up to which every message is done is recorded for the next commit. A message that
 * could not be handled (the loop stopping) is thrown after that, so the batch ends there.
 */
export function fetchHandler(parts: FetchParts): (payload: EachBatchPayload) => Promise<void> {
  return async function handleFetched({ batch, resolveOffset, heartbeat, isRunning, isStale }) {
    const { topic, partition, messages } = batch;
    const done = new Array<boolean>(messages.length).fill(false);
    const handler = parts.byTopic.get(topic);
    if (handler) logReplays(parts.log, topic, partition, messages);
    if (handler?.handleBatch && isRunning() && !isStale()) {
      await parts.handleAsBatch(handler as BatchHandler, { topic, partition, heartbeat }, messages, done);
    }
    let failure: { err: unknown } | undefined;
    async function runChain(indices: number[]) {
      for (const i of indices) {
        if (failure || !isRunning() || isStale()) return;
        await parts.inFlight.acquire();
        try {
          await parts.handleMessage({ topic, partition, message: messages[i]!, heartbeat });
          done[i] = true;
        } catch (err) {
          failure ??= { err };
          return;
        } finally {
          parts.inFlight.release();
        }
      }
    }
    await Promise.all([...chainsByKey(messages, done).values()].map(runChain));
    parts.offsets.recordHandled(topic, partition, messages, done, resolveOffset);
    if (failure) throw failure.err;
    await heartbeat();
  };
}

/** The indices of the messages not yet done, grouped by key, each group in offset order. */
function chainsByKey(messages: KafkaMessage[], done: boolean[]): Map<string, number[]> {
  const chains = new Map<string, number[]>();
  messages.forEach((message, i) => {
    if (done[i]) return;
    const key = message.key?.toString('utf8') ?? '';
    const chain = chains.get(key);
    if (chain) chain.push(i);
    else chains.set(key, [i]);
  });
  return chains;
}

/** A replay from the DLQ (scripts/dlq.ts) says so in the log before it is handled, with its order. */
function logReplays(log: Logger, topic: string, partition: number, messages: KafkaMessage[]): void {
  for (const message of messages) {
    const replay = replayOf(message);
    if (!replay) continue;
    const { eventId, correlationId, orderId } = envelopeFields(message.value);
    log.info(
      {
        replay: true,
        replayedFrom: replay.from,
        replayCount: replay.count,
        topic,
        partition,
        offset: message.offset,
        eventId,
        orderId,
        correlationId,
      },
      `Replaying event ${eventId ?? '(no event id)'} from DLQ`,
    );
  }
}
