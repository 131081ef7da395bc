/**
 * What one Kafka hop costs in CPU, through the project's own producer and consumer loop (a no-op
 * handler, scratch topic): the client process (producer + consumer, this one) and the broker,
 * per message, sent one at a time (each waits for its consumption, as at low rates) and in
 * relay-sized batches of 200. The idle cost of the running consumer over the same time is
 * subtracted. Stop the services first (`make down && make infra`): their idle fetches would
 * count as the broker's.
 *
 *   npx tsx bench/experiments/micro-kafka.ts [messages one at a time, default 1000]
 */
import { cpuMeter, type CpuWindow } from '../cpu.js';
import { scratchEnvelope, scratchKafka } from '../scratch-kafka.js';

const single = Number(process.argv[2] ?? 1_000);
const batched = 20_000;

let consumed = 0;
let waiting: { count: number; resolve: () => void } | undefined;
const { producer, topic, close } = await scratchKafka(
  'bench-micro-kafka',
  `bench-micro-${Date.now().toString(36)}.`,
  () => {
    consumed += 1;
    if (waiting && consumed >= waiting.count) waiting.resolve();
  },
);
const until = (count: number) =>
  new Promise<void>((resolve) => {
    waiting = { count, resolve };
    if (consumed >= count) resolve();
  });
const value = (i: number) => scratchEnvelope(i).value;

const perMessageUs = (w: CpuWindow, idle: CpuWindow, n: number, who: 'bench' | 'kafka') => {
  const idlePerSecond = (idle.perProcess[who] ?? 0) / idle.seconds;
  return Math.round((((w.perProcess[who] ?? 0) - idlePerSecond * w.seconds) / n) * 1e6);
};

try {
  for (let i = 0; i < 50; i++) {
    await producer.send({ topic, acks: -1, messages: [{ key: String(i), value: value(i) }] });
    await until(i + 1);
  }
  const idleMeter = cpuMeter();
  await new Promise((r) => setTimeout(r, 5_000));
  const idle = idleMeter.stop();

  consumed = 0;
  const oneMeter = cpuMeter();
  for (let i = 0; i < single; i++) {
    await producer.send({ topic, acks: -1, messages: [{ key: String(i), value: value(i) }] });
    await until(i + 1);
  }
  const one = oneMeter.stop();

  consumed = 0;
  const batchMeter = cpuMeter();
  for (let i = 0; i < batched; i += 200) {
    const messages = Array.from({ length: 200 }, (_, j) => ({ key: String(i + j), value: value(i + j) }));
    await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
  }
  await until(batched);
  const batch = batchMeter.stop();

  console.log(
    `idle: client ${Math.round(((idle.perProcess.bench ?? 0) / idle.seconds) * 1000)} ms/s, broker ${Math.round(((idle.perProcess.kafka ?? 0) / idle.seconds) * 1000)} ms/s`,
  );
  console.log(
    `one at a time (${single}): client ${perMessageUs(one, idle, single, 'bench')} µs, broker ${perMessageUs(one, idle, single, 'kafka')} µs of CPU per message, ${Math.round((one.seconds / single) * 1e6)} µs wall`,
  );
  console.log(
    `batches of 200 (${batched}): client ${perMessageUs(batch, idle, batched, 'bench')} µs, broker ${perMessageUs(batch, idle, batched, 'kafka')} µs of CPU per message`,
  );
} finally {
  await close();
}
