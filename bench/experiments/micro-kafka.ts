/**
 * What one Kafka hop costs in CPU, through the project's own producer and consumer loop (a no-op
 * handler, scratch topic): the client process (producer + consumer, this one) and the broker,
 * per message, sent one at a time (each waits for its consumption, as at low rates) and in
 * relay-sized batches of 200. The idle cost of the running consumer over the same time is
 * subtracted. Stop the services first (`make down && make infra`): their idle fetches would
 * count as the broker's. A broker that has just started costs several times as much per message
 * until its JIT has compiled the request path: the run first sends `warm-up` messages one at a
 * time and leaves them out (the broker of a system that has run for a while is warm).
 *
 * PARTITIONS (default 6) sets the scratch topic's partitions: a fetch names every partition the
 * consumer has, so its cost grows with them (the services consume 2 or 3 topics of 6).
 *
 * GAP_MS (default 0) waits that long between two of the measured one-at-a-time messages, as
 * events come at low rates (20 orders/s of 5 events: one every 10 ms): the processes sleep
 * between messages and pay for waking up; the idle cost over the gaps is subtracted.
 *
 *   [PARTITIONS=6] [GAP_MS=0] npx tsx bench/experiments/micro-kafka.ts [messages one at a time, default 3000] [warm-up, default 10000]
 */
import { cpuMeter, type CpuWindow } from '../cpu.js';
import { scratchEnvelope, scratchKafka } from '../scratch-kafka.js';

const single = Number(process.argv[2] ?? 3_000);
const warmUp = Number(process.argv[3] ?? 10_000);
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
  Number(process.env.PARTITIONS ?? 6),
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
  for (let i = 0; i < warmUp; i++) {
    await producer.send({ topic, acks: -1, messages: [{ key: String(i), value: value(i) }] });
    await until(i + 1);
  }
  const idleMeter = cpuMeter();
  await new Promise((r) => setTimeout(r, 5_000));
  const idle = idleMeter.stop();

  consumed = 0;
  const gapMs = Number(process.env.GAP_MS ?? 0);
  const oneMeter = cpuMeter();
  for (let i = 0; i < single; i++) {
    await producer.send({ topic, acks: -1, messages: [{ key: String(i), value: value(i) }] });
    await until(i + 1);
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
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
    `one at a time (${single}${gapMs > 0 ? `, ${gapMs} ms apart` : ''}): client ${perMessageUs(one, idle, single, 'bench')} µs, broker ${perMessageUs(one, idle, single, 'kafka')} µs of CPU per message, ${Math.round((one.seconds / single) * 1e6)} µs wall`,
  );
  console.log(
    `batches of 200 (${batched}): client ${perMessageUs(batch, idle, batched, 'bench')} µs, broker ${perMessageUs(batch, idle, batched, 'kafka')} µs of CPU per message`,
  );
} finally {
  await close();
}
