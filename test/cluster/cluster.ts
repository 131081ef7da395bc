/**
 * A real three-node KRaft cluster for the cluster suite: every node is broker and controller,
 * started from the jars infra/kafka/fetch.sh caches with the single-node template plus the
 * cluster's own settings, on free ports and data dirs of a fault-suite sandbox. Nodes can be
 * killed, stopped and started again on the same ports and data; the helpers below read who
 * leads what and whether every replica is back in sync.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createKafka, createLogger, type Admin } from '@delivery/common';
import { waitFor } from '@delivery/common/testing';
import { ROOT, freePort } from '../support.js';
import { kafkaCache, killProcess, type Sandbox } from '../faults/support.js';

const run = promisify(execFile);

/**
 * Three brokers share two cores with seven service processes: the quick JIT only and the
 * single-threaded collector start faster and leave more CPU to the rest, at a throughput far
 * above what the suite's load needs.
 */
const LEAN_JVM = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];

/** Replicas of every topic, and how many must have a write before it is acknowledged. */
export const REPLICATION_FACTOR = 3;
export const MIN_INSYNC_REPLICAS = 2;

export interface ClusterNode {
  id: number;
  /** host:port of its client (PLAINTEXT) listener. */
  address: string;
  /** Whether its JVM runs (it may still be starting or fenced). */
  running(): boolean;
  /** Launches the JVM and waits until the node serves metadata (it is unfenced). */
  start(): Promise<void>;
  /** Signals the JVM (SIGTERM: controlled shutdown; SIGKILL: a crash) and waits until it exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface KafkaCluster {
  nodes: ClusterNode[];
  /** Every node's client address: what KAFKA_BROKERS lists. */
  brokers: string[];
  node(id: number): ClusterNode;
  /** A connected admin client on all three nodes; disconnect() it when done. */
  admin(): Promise<Admin>;
}

/** What a cluster node sets over infra/kafka/server.properties.template (later keys win in a .properties file). */
function clusterSettings(id: number, voters: string): string {
  return `
# --- cluster suite: node ${id} of a ${REPLICATION_FACTOR}-node KRaft cluster ---
node.id=${id}
controller.quorum.voters=${voters}
default.replication.factor=${REPLICATION_FACTOR}
min.insync.replicas=${MIN_INSYNC_REPLICAS}
offsets.topic.replication.factor=${REPLICATION_FACTOR}
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=${REPLICATION_FACTOR}
transaction.state.log.min.isr=${MIN_INSYNC_REPLICAS}
share.coordinator.state.topic.replication.factor=${REPLICATION_FACTOR}
share.coordinator.state.topic.min.isr=${MIN_INSYNC_REPLICAS}
unclean.leader.election.enable=false
`;
}

/** The infra scripts' own readiness probe: the node answers Metadata and lists a live broker. */
const servesMetadata = (port: number) =>
  run('bash', ['-c', `source infra/kafka/common.sh && kafka_serves_metadata 127.0.0.1 ${port}`], {
    cwd: ROOT,
  }).then(
    () => true,
    () => false,
  );

/** Formats and starts `size` nodes in parallel; resolves once every one serves metadata. */
export async function startCluster(sandbox: Sandbox, size = REPLICATION_FACTOR): Promise<KafkaCluster> {
  const cache = kafkaCache();
  if (!existsSync(path.join(cache, 'libs.complete')))
    throw new Error('Kafka jars missing: run `bash infra/kafka/fetch.sh` (make test-cluster does)');
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  const ports = new Map<number, { client: number; controller: number }>();
  for (const id of ids) ports.set(id, { client: await freePort(), controller: await freePort() });
  const voters = ids.map((id) => `${id}@127.0.0.1:${ports.get(id)!.controller}`).join(',');
  const java = [
    '-cp',
    `${cache}/libs/*`,
    `-Dlog4j2.configurationFile=${path.join(ROOT, 'infra/kafka/log4j2.xml')}`,
  ];
  // One cluster id for all nodes; Kafka never hands out one starting with '-'.
  const clusterId = randomBytes(16).toString('base64url').replace(/^-/, 'A');
  const template = readFileSync(path.join(ROOT, 'infra/kafka/server.properties.template'), 'utf8');

  const nodes = await Promise.all(
    ids.map(async (id): Promise<ClusterNode> => {
      const { client, controller } = ports.get(id)!;
      const dataDir = path.join(sandbox.dir, `kafka-${id}`);
      mkdirSync(dataDir, { recursive: true });
      const props = path.join(dataDir, 'server.properties');
      writeFileSync(
        props,
        template
          .replaceAll('@BROKER_PORT@', String(client))
          .replaceAll('@CONTROLLER_PORT@', String(controller))
          .replaceAll('@DATA_DIR@', dataDir) + clusterSettings(id, voters),
      );
      await run('java', [
        ...LEAN_JVM,
        '-Xmx256m',
        ...java,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        props,
      ]);
      let child: ChildProcess | undefined;
      const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
      return {
        id,
        address: `127.0.0.1:${client}`,
        running,
        async start() {
          if (running()) throw new Error(`kafka node ${id} is still running`);
          const proc = sandbox.spawn(`kafka-${id}`, 'java', [
            ...LEAN_JVM,
            '-Xms128m',
            '-Xmx384m',
            ...java,
            'kafka.Kafka',
            props,
          ]);
          child = proc;
          await waitFor(
            async () => {
              if (proc.exitCode !== null) throw new Error(`kafka node ${id} exited with ${proc.exitCode}`);
              return servesMetadata(client);
            },
            // About 10 s on a quiet machine; far longer when other JVMs share the two cores.
            { timeoutMs: 180_000, intervalMs: 500, what: `kafka node ${id} on port ${client}` },
          );
        },
        async stop(signal = 'SIGTERM') {
          if (child) await killProcess(child, signal);
        },
      };
    }),
  );
  // In parallel: a node waits for a quorum of controllers before it is unfenced.
  await Promise.all(nodes.map((n) => n.start()));
  const brokers = nodes.map((n) => n.address);
  return {
    nodes,
    brokers,
    node: (id) => nodes.find((n) => n.id === id)!,
    async admin() {
      const admin = createKafka({
        clientId: 'cluster-suite',
        brokers,
        logger: createLogger({ service: 'test', level: 'silent' }),
      }).admin();
      await admin.connect();
      return admin;
    },
  };
}

export interface PartitionState {
  topic: string;
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

/** Leader, replicas and ISR of every partition of the topics, as the cluster answers now. */
export async function partitions(admin: Admin, topics: string[]): Promise<PartitionState[]> {
  const { topics: meta } = await admin.fetchTopicMetadata({ topics });
  return meta.flatMap(({ name, partitions: list }) =>
    list.map((p) => ({
      topic: name,
      partition: p.partitionId,
      leader: p.leader,
      replicas: p.replicas,
      isr: p.isr,
    })),
  );
}

/** The topics of a system's namespace (its event topics and their DLQs). */
export async function systemTopics(admin: Admin, prefix: string): Promise<string[]> {
  return (await admin.listTopics()).filter((t) => t.startsWith(prefix)).sort();
}

/** The node that leads the most partitions of the topics (the lowest id on a tie). */
export async function busiestLeader(admin: Admin, topics: string[]): Promise<number> {
  const led = new Map<number, number>();
  for (const p of await partitions(admin, topics)) led.set(p.leader, (led.get(p.leader) ?? 0) + 1);
  const [top] = [...led].filter(([leader]) => leader >= 0).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  if (!top) throw new Error(`no partition of ${topics.join(', ')} has a leader`);
  return top[0];
}

/**
 * Resolves once every partition of the topics has a leader among the live nodes and all
 * `replicas` replicas in its ISR: the cluster has healed and can lose a node again.
 */
export async function waitInSync(
  admin: Admin,
  topics: string[],
  { replicas = REPLICATION_FACTOR, timeoutMs = 120_000 } = {},
): Promise<void> {
  let last = '';
  await waitFor(
    async () => {
      const lagging = (await partitions(admin, topics)).filter(
        (p) => p.leader < 0 || p.isr.length !== replicas,
      );
      last = lagging
        .slice(0, 5)
        .map((p) => `${p.topic}/${p.partition} leader ${p.leader} isr [${p.isr.join(',')}]`)
        .join('; ');
      return lagging.length === 0;
    },
    { timeoutMs, intervalMs: 500, what: `ISR ${replicas} on every partition` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last lagging: ${last}`);
  });
}

/** Resolves once no partition of the topics names node `id` as its leader (the others took over). */
export async function waitLeadersMovedOff(admin: Admin, topics: string[], id: number, timeoutMs = 60_000) {
  await waitFor(
    async () => (await partitions(admin, topics)).every((p) => p.leader !== id && p.leader >= 0),
    {
      timeoutMs,
      intervalMs: 250,
      what: `every partition led by a node other than ${id}`,
    },
  );
}
