import { Gauge, type Registry } from 'prom-client';
import type { Admin } from 'kafkajs';
import { measureWaiting } from './dlq-ledger.js';
import type { Logger } from './logger.js';

export interface DlqDepthOptions {
  admin: Admin;
  registry: Registry;
  /** replayGroupId(prefix). */
  replayGroup: string;
  /** The DLQs of the topics the service consumes. */
  dlqTopics: string[];
  /** How often the depth is measured (default 30 s): a few offset requests, never per scrape. */
  intervalMs?: number;
  logger: Logger;
}

export interface DlqDepth {
  start(): void;
  stop(): Promise<void>;
  refresh(): Promise<void>;
}

/**
 * The gauge `dlq_messages{topic}`: dead letters waiting for a replay, by DLQ topic, measured from
 * offsets (dlq-ledger.ts), so an alert on `dlq_messages > 0` fires when a message is dead-lettered
 * and clears when it is replayed. While Kafka cannot be asked the last value stays.
 */
export function dlqDepthGauge(options: DlqDepthOptions): DlqDepth {
  const { admin, registry, replayGroup, dlqTopics, intervalMs = 30_000 } = options;
  const log = options.logger.child({ module: 'dlq-depth' });
  const gauge =
    (registry.getSingleMetric('dlq_messages') as Gauge<'topic'> | undefined) ??
    new Gauge({
      name: 'dlq_messages',
      help: 'Dead letters not replayed yet, by DLQ topic (make dlq lists them)',
      labelNames: ['topic'],
      registers: [registry],
    });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let failing = false;
  let stopped = false;

  async function refresh(): Promise<void> {
    try {
      for (const topic of dlqTopics) gauge.set({ topic }, await measureWaiting(admin, replayGroup, topic));
      failing = false;
    } catch (err) {
      // Once per outage at warn: the broker being down is reported by /readyz already.
      if (!failing && !stopped) log.warn({ err }, 'could not measure the DLQ depth; keeping the last value');
      failing = true;
    }
  }
  const tick = () => {
    running ??= refresh().finally(() => (running = undefined));
  };
  return {
    refresh,
    start() {
      tick();
      timer = setInterval(tick, intervalMs);
    },
    stop() {
      // Not waiting for a measurement in flight: with Kafka down it could outlast the shutdown's
      // grace; it only sets a gauge, and fails quietly once the admin client is closed.
      stopped = true;
      clearInterval(timer);
      return Promise.resolve();
    },
  };
}
