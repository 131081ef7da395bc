import { createDb, ensureDatabase } from '@delivery/common';
import { createClient } from 'redis';
import { scratchEnvelope, scratchKafka } from './scratch-kafka.js';
import { JsonClient, MYSQL_URL, REDIS_URL, SERVICES } from './system.js';
import { nowMs, summarize, type Summary } from './stats.js';

/**
 * This machine's limits, measured in the same run with the same client settings as the services:
 * MariaDB commits (knex + mysql2, scratch database), Kafka through the project's producer and
 * consumer loop, Redis SET NX PX, and the HTTP stack of a running service.
 */
export interface Rate {
  perSecond: number;
  latencyMs: Summary;
  concurrency: number;
}

export interface Limits {
  mariadb: { serialTx: Rate; concurrentTx: Rate; concurrentAutocommit: Rate };
  kafka: {
    roundTrip: Summary;
    produceAck: Summary;
    producePerSecond: number;
    endToEndPerSecond: number;
    messages: number;
  };
  redis: { setNxSerial: Rate; setNxConcurrent: Rate; compareAndDelete: Summary };
  http: { healthzSerial: Rate; healthzConcurrent: Rate };
}

/** Runs `op` from `concurrency` workers for `ms`; completions per second and per-op latency. */
async function saturate(
  concurrency: number,
  ms: number,
  op: (worker: number, i: number) => Promise<unknown>,
): Promise<Rate> {
  const latencies: number[] = [];
  const end = nowMs() + ms;
  const started = nowMs();
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (nowMs() < end) {
        const t0 = nowMs();
        await op(w, i++);
        latencies.push(nowMs() - t0);
      }
    }),
  );
  return {
    perSecond: Math.round(latencies.length / ((nowMs() - started) / 1_000)),
    latencyMs: summarize(latencies),
    concurrency,
  };
}

async function mariadbLimits(concurrency: number): Promise<Limits['mariadb']> {
  await ensureDatabase(MYSQL_URL, 'bench_scratch');
  const db = createDb({ url: MYSQL_URL, database: 'bench_scratch', poolMax: concurrency });
  try {
    await db.raw(`CREATE TABLE IF NOT EXISTS commit_probe (
      id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, worker INT NOT NULL, payload VARCHAR(200) NOT NULL,
      created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE=InnoDB`);
    await db.raw('TRUNCATE TABLE commit_probe');
    const payload = 'x'.repeat(120);
    // One single-row transaction the way the services write: BEGIN, INSERT, COMMIT through knex.
    const tx = (worker: number) => db.transaction((trx) => trx('commit_probe').insert({ worker, payload }));
    await saturate(concurrency, 300, tx); // warm the pool
    return {
      serialTx: await saturate(1, 2_000, tx),
      concurrentTx: await saturate(concurrency, 3_000, tx),
      concurrentAutocommit: await saturate(concurrency, 2_000, (worker) =>
        db('commit_probe').insert({ worker, payload }),
      ),
    };
  } finally {
    await db.raw('TRUNCATE TABLE commit_probe').catch(() => undefined);
    await db.destroy();
  }
}

async function kafkaLimits(run: string, messages: number): Promise<Limits['kafka']> {
  const waiters = new Map<string, () => void>();
  let consumed = 0;
  let allConsumed: (() => void) | undefined;
  let target = Infinity;
  // What the project's consumer loop itself costs per message.
  const { producer, topic, close } = await scratchKafka('bench-limits', `bench-scratch-${run}.`, (event) => {
    consumed += 1;
    waiters.get(event.eventId)?.();
    if (consumed >= target) allConsumed?.();
  });
  try {
    const rtt: number[] = [];
    const ack: number[] = [];
    for (let i = 0; i < 300; i++) {
      const { eventId, value } = scratchEnvelope(i);
      const got = new Promise<void>((resolve) => waiters.set(eventId, resolve));
      const t0 = nowMs();
      await producer.send({ topic, acks: -1, messages: [{ key: String(i), value }] });
      ack.push(nowMs() - t0);
      await got;
      rtt.push(nowMs() - t0);
      waiters.delete(eventId);
    }
    // Throughput the way a relay publishes: batches of 200 (its batch size), one send at a time.
    consumed = 0;
    target = messages;
    const done = new Promise<void>((resolve) => (allConsumed = resolve));
    const t0 = nowMs();
    for (let i = 0; i < messages; i += 200) {
      const batch = Array.from({ length: Math.min(200, messages - i) }, (_, j) => ({
        key: String(i + j),
        value: scratchEnvelope(i + j).value,
      }));
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: batch }] });
    }
    const produced = nowMs();
    await done;
    const end = nowMs();
    return {
      roundTrip: summarize(rtt),
      produceAck: summarize(ack),
      producePerSecond: Math.round(messages / ((produced - t0) / 1_000)),
      endToEndPerSecond: Math.round(messages / ((end - t0) / 1_000)),
      messages,
    };
  } finally {
    await close();
  }
}

async function redisLimits(run: string, concurrency: number): Promise<Limits['redis']> {
  const redis = createClient({ url: REDIS_URL });
  await redis.connect();
  const keys: string[] = [];
  const setNx = async (_w: number, i: number) => {
    const key = `bench-scratch:${run}:${i}`;
    keys.push(key);
    await redis.set(key, String(i), { condition: 'NX', expiration: { type: 'PX', value: 60_000 } });
  };
  try {
    const setNxSerial = await saturate(1, 1_500, setNx);
    const setNxConcurrent = await saturate(concurrency, 2_000, setNx);
    const cad: number[] = [];
    for (const key of keys.slice(0, 1_000)) {
      const t0 = nowMs();
      await redis.eval(
        `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
        {
          keys: [key],
          arguments: ['nope'],
        },
      );
      cad.push(nowMs() - t0);
    }
    return { setNxSerial, setNxConcurrent, compareAndDelete: summarize(cad) };
  } finally {
    for (let i = 0; i < keys.length; i += 1_000) await redis.unlink(keys.slice(i, i + 1_000));
    await redis.close();
  }
}

async function httpLimits(concurrency: number): Promise<Limits['http']> {
  const client = new JsonClient(SERVICES.order, concurrency);
  try {
    const get = () => client.call('GET', '/healthz');
    return {
      healthzSerial: await saturate(1, 1_500, get),
      healthzConcurrent: await saturate(concurrency, 2_000, get),
    };
  } finally {
    await client.close();
  }
}

export async function measureLimits(
  run: string,
  opts: { concurrency: number; kafkaMessages?: number },
): Promise<Limits> {
  // MariaDB beside the services' own pools: capped so it never exhausts max_connections.
  const dbConcurrency = Math.min(opts.concurrency, 32);
  return {
    mariadb: await mariadbLimits(dbConcurrency),
    kafka: await kafkaLimits(run, opts.kafkaMessages ?? 20_000),
    redis: await redisLimits(run, opts.concurrency),
    http: await httpLimits(opts.concurrency),
  };
}
