/**
 * Dead letters, for the operator:
 *   tsx scripts/dlq.ts list [TOPIC]          (make dlq [TOPIC=…])         what waits in each DLQ
 *   tsx scripts/dlq.ts replay TOPIC [ID]     (make dlq-replay TOPIC=… [ID=…])  send them back
 *   tsx scripts/dlq.ts discard TOPIC [ID]    (make dlq-discard TOPIC=… [ID=…]) mark them dealt with, unsent
 * TOPIC is a flow topic (`order.created`) or its DLQ (`order.created.dlq`); ID an event id or a
 * `<partition>/<offset>` from the list. KAFKA_BROKERS and KAFKA_TOPIC_PREFIX as for the services.
 */
import {
  TOPICS,
  commonEnv,
  createKafka,
  createLogger,
  createProducer,
  dlqTopic,
  listDeadLetters,
  parseEnv,
  replayDeadLetters,
  replayGroupId,
  topicName,
  type Admin,
  type DlqListing,
  type Kafka,
  type ListedDeadLetter,
} from '@delivery/common';

const USAGE =
  'usage: dlq.ts list [TOPIC] | dlq.ts replay|discard TOPIC [ID]   (make dlq, make dlq-replay|dlq-discard TOPIC=… [ID=…])';
const FLOW_TOPICS: string[] = Object.values(TOPICS);

const env = parseEnv(commonEnv.pick({ KAFKA_BROKERS: true, KAFKA_TOPIC_PREFIX: true }), process.env);
const prefix = env.KAFKA_TOPIC_PREFIX;

/** `order.created`, `order.created.dlq`, either with the namespace prefix → the DLQ topic's name. */
function dlqOf(arg: string): string {
  const base = arg.replace(/\.dlq$/, '').slice(arg.startsWith(prefix) ? prefix.length : 0);
  if (!FLOW_TOPICS.includes(base))
    throw new UsageError(`unknown topic ${JSON.stringify(arg)}; one of: ${FLOW_TOPICS.join(', ')}`);
  return dlqTopic(topicName(prefix, base));
}

class UsageError extends Error {}

const time = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;

function age(d: Date): string {
  const minutes = Math.floor((Date.now() - d.getTime()) / 60_000);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h ${minutes % 60} min ago` : `${Math.floor(hours / 24)} days ago`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`)
    .join('\n');
}

function printListing({ dlqTopic: topic, letters, waiting }: DlqListing, fullErrors: boolean): void {
  const pending = letters.filter((l) => !l.replayed);
  const replayed = letters.length - pending.length;
  const done = replayed > 0 ? `; ${replayed} replayed or discarded` : '';
  if (pending.length === 0) {
    console.log(`${topic}: nothing waiting${done}`);
    return;
  }
  const oldest = pending.reduce((a, b) => (b.at < a.at ? b : a)).at;
  console.log(`${topic}: ${waiting} waiting, oldest dead-lettered ${time(oldest)} (${age(oldest)})${done}`);
  const error = (l: ListedDeadLetter) =>
    fullErrors || l.error.length <= 140 ? l.error : `${l.error.slice(0, 137)}...`;
  const service = (l: ListedDeadLetter) =>
    (l.group ?? '?').slice(l.group?.startsWith(prefix) ? prefix.length : 0);
  console.log(
    table([
      ['DEAD-LETTERED', 'ID', 'SERVICE', 'REASON', 'TRIES', 'REPLAYS', 'ORDER', 'EVENT', 'ERROR'],
      ...pending.map((l) => [
        time(l.at),
        `${l.partition}/${l.offset}`,
        service(l),
        l.reason,
        String(l.attempts ?? '-'),
        String(l.replays),
        l.orderId ?? '-',
        l.eventId ?? '-',
        error(l),
      ]),
    ]),
  );
}

async function list(kafka: Kafka, admin: Admin, topic: string | undefined): Promise<void> {
  const dlqs = topic ? [dlqOf(topic)] : FLOW_TOPICS.map((t) => dlqTopic(topicName(prefix, t)));
  const existing = new Set(await admin.listTopics());
  for (const dlq of dlqs) {
    if (!existing.has(dlq)) console.log(`${dlq}: no such topic yet`);
    else printListing(await listDeadLetters(kafka, admin, replayGroupId(prefix), dlq), topic !== undefined);
  }
}

async function replay(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  id: string | undefined,
  discard: boolean,
): Promise<void> {
  const dlq = dlqOf(topic);
  if (!(await admin.listTopics()).includes(dlq))
    throw new Error(`no topic ${dlq} on ${env.KAFKA_BROKERS.join(',')} (KAFKA_TOPIC_PREFIX=${prefix})`);
  const producer = createProducer(kafka);
  await producer.connect();
  try {
    const result = await replayDeadLetters({
      kafka,
      admin,
      producer,
      replayGroup: replayGroupId(prefix),
      dlqTopic: dlq,
      id,
      discard,
    });
    for (const l of result.replayed)
      console.log(
        `${discard ? 'discarded' : 'replayed'} ${l.partition}/${l.offset}  order ${l.orderId ?? '-'}  event ${l.eventId ?? '-'}  ${l.reason}  (replay ${l.replays + 1})`,
      );
    if (id !== undefined && result.replayed.length === 0) {
      process.exitCode = 1;
      console.log(
        `no waiting dead letter in ${result.dlqTopic} matches ID=${id} (make dlq TOPIC=${topic} lists them)`,
      );
      return;
    }
    const what = id === undefined ? '' : ` matching ${id}`;
    if (discard) {
      console.log(
        `${result.replayed.length} dead letter(s)${what} discarded; ${result.waiting} still waiting.`,
      );
      return;
    }
    console.log(
      `${result.replayed.length} dead letter(s)${what} sent back to ${result.topic}; ${result.waiting} still waiting in ${result.dlqTopic}.`,
    );
    if (result.replayed.length > 0)
      console.log(
        "Each is logged as 'Replaying event … from DLQ'; one that fails again is back in `make dlq`.",
      );
  } finally {
    await producer.disconnect();
  }
}

async function main(): Promise<void> {
  // make passes an unset TOPIC as "": keep the positions, an empty one is absent.
  const [command, topic, id] = process.argv.slice(2).map((a) => a.trim() || undefined);
  if (command !== 'list' && command !== 'replay' && command !== 'discard') throw new UsageError(USAGE);
  if (command !== 'list' && !topic) throw new UsageError(`${command} needs TOPIC\n${USAGE}`);
  const logger = createLogger({ service: 'dlq', level: 'silent' });
  const kafka = createKafka({ clientId: 'dlq-tool', brokers: env.KAFKA_BROKERS, logger });
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (command === 'list') await list(kafka, admin, topic);
    else await replay(kafka, admin, topic!, id, command === 'discard');
  } finally {
    await admin.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(err instanceof UsageError ? 2 : 1);
});
