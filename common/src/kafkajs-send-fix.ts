import { createRequire } from 'node:module';

/**
 * KafkaJS 2.2.4 can acknowledge a send whose messages never reached the broker. Within one send
 * it remembers which brokers answered; when another broker fails ("not the leader", a broker
 * killed) it retries, but only towards brokers that have not answered yet. If the failed
 * partitions' new leader is a broker that already answered for other partitions, their messages
 * are never sent, and the send resolves as if they were (tulios/kafkajs#1303, fixed upstream only
 * in unmerged pull requests). The outbox would then mark those events published: lost. The
 * cluster suite (test/cluster) lost order.created, order.confirmed and order.dispatched events
 * this way in leader moves and a rolling restart.
 *
 * Patched here by making every attempt a whole new send: KafkaJS's send body runs once per
 * attempt (its own retrier replaced by a single run) and the producer's retrier runs the attempts,
 * so a retry sends every message again to the leaders of the moment. A retry may send again what
 * a broker had already written; every consumer is idempotent by event id, so that costs a
 * duplicate, never a loss.
 *
 * KafkaJS binds the send function when its producer module loads, so this must run before
 * `kafkajs` is first required: common/src/kafka.ts imports it before kafkajs, and
 * kafkaSendFixApplied() tells whether it was in time (createRuntime refuses to start otherwise).
 */
type Retrier = <T>(
  fn: (bail: (err: Error) => void, retryCount: number, retryTime: number) => Promise<T>,
) => Promise<T>;
type SendMessages = (args: unknown) => Promise<unknown>;
type CreateSendMessages = (deps: { retrier: Retrier; [k: string]: unknown }) => SendMessages;

const require = createRequire(import.meta.url);
const sendMessagesPath = require.resolve('kafkajs/src/producer/sendMessages.js');
const messageProducerPath = require.resolve('kafkajs/src/producer/messageProducer.js');
/** Loaded already: the producer holds KafkaJS's own function, too late to replace it. */
const tooLate = require.cache[messageProducerPath] !== undefined;

/** Errors KafkaJS's send body gave up on (it calls `bail` for errors a retry cannot fix). */
const bailed = new WeakSet<object>();

/** Runs the send body once: what it bails with or throws becomes the rejection. */
const once: Retrier = (fn) =>
  new Promise((resolve, reject) => {
    const bail = (err: Error) => {
      bailed.add(err);
      reject(err);
    };
    fn(bail, 0, 0).then(resolve, reject);
  });

function patch(original: CreateSendMessages): CreateSendMessages {
  return (deps) => {
    const attempt = original({ ...deps, retrier: once });
    return (args) =>
      deps.retrier(async (bail) => {
        try {
          return await attempt(args);
        } catch (err) {
          if (err instanceof Error && bailed.has(err)) bail(err);
          throw err;
        }
      });
  };
}

if (!tooLate) {
  const original = require(sendMessagesPath) as CreateSendMessages;
  require.cache[sendMessagesPath]!.exports = patch(original);
}

/** True when the producers KafkaJS creates in this process send every message again on a retry. */
export function kafkaSendFixApplied(): boolean {
  return !tooLate;
}
