/**
 * For `infra/kafka/cluster.sh status`: how many partitions each node leads, from one Metadata
 * request. Prints `<node id> leads <n> partitions` per live node; one node leading everything
 * after a restart means leadership has not moved back yet.
 *   tsx scripts/kafka-leaders.ts 127.0.0.1:19091,127.0.0.1:19092,127.0.0.1:19093
 */
import { createKafka, createLogger } from '@delivery/common';

const brokers = (process.argv[2] ?? '').split(',').filter(Boolean);
const admin = createKafka({
  clientId: 'kafka-leaders',
  brokers,
  logger: createLogger({ service: 'kafka-leaders', level: 'silent' }),
}).admin();

async function main(): Promise<void> {
  await admin.connect();
  try {
    const { brokers: live } = await admin.describeCluster();
    const { topics } = await admin.fetchTopicMetadata();
    const led = new Map<number, number>(live.map((b) => [b.nodeId, 0]));
    for (const p of topics.flatMap((t) => t.partitions)) led.set(p.leader, (led.get(p.leader) ?? 0) + 1);
    for (const [id, n] of [...led].sort(([a], [b]) => a - b))
      if (id >= 0) console.log(`${id} leads ${n} partitions`);
  } finally {
    await admin.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
