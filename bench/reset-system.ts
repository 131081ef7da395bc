/**
 * Drops the databases `make up` runs on and deletes the topics (not a test's `test-…` ones) and
 * consumer groups of the system (unprefixed), so an A/B run starts from nothing (bench/ab-fresh.sh).
 */
import { createDb, createKafka, createLogger } from '@delivery/common';
import { DATABASES, MYSQL_URL } from './system.js';

const admin = createKafka({
  clientId: 'bench-reset',
  brokers: [process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'],
  logger: createLogger({ service: 'bench', level: 'silent' }),
}).admin();

if (!process.argv.includes('--yes')) {
  console.error(`bench/reset-system.ts drops ${Object.values(DATABASES).join(', ')}: run it with --yes`);
  process.exit(2);
}
// common's dropDatabase refuses anything but _test databases; this is the one deliberate exception.
const server = createDb({ url: MYSQL_URL, database: 'mysql', poolMax: 1 });
try {
  for (const database of Object.values(DATABASES)) await server.raw('DROP DATABASE IF EXISTS ??', [database]);
} finally {
  await server.destroy();
}
await admin.connect();
try {
  const topics = (await admin.listTopics()).filter((t) => t.startsWith('order.'));
  if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
  // The groups of `make up` (no topic prefix), and those of finished bench runs; a bench still
  // running elsewhere (another copy of the system beside this one) keeps its group.
  const services = new Set(['order-service', 'inventory-service', 'dispatcher-service']);
  const groups = (await admin.listGroups()).groups
    .map((g) => g.groupId)
    .filter((g) => services.has(g) || g.startsWith('bench-'));
  let deleted = 0;
  for (const group of groups) {
    try {
      await admin.deleteGroups([group]);
      deleted += 1;
    } catch (err) {
      if (services.has(group)) throw err;
      console.log(`reset: ${group} is in use, left alone`);
    }
  }
  console.log(
    `reset: ${Object.values(DATABASES).join(', ')} dropped; ${topics.length} topics, ${deleted} groups deleted`,
  );
} finally {
  await admin.disconnect();
}
