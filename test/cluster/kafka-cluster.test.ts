/**
 * The system on a three-node Kafka cluster (replication factor 3, min ISR 2), with two
 * order-service, two inventory-service and three dispatcher instances in their consumer groups,
 * while brokers crash, restart one by one, die together with service instances, and while two
 * of the three are gone. Every scenario runs under a steady load and ends with the fault suite's
 * checks: nothing lost, nothing applied twice, no vehicle double-booked, every order answered 201
 * in its final state. The scenarios share the cluster, one after the other; each gets a system
 * of its own (databases, topic namespace, consumer groups), so its checks are its own.
 */
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { TOPICS, topicName, type Admin } from '@delivery/common';
import { waitFor } from '@delivery/common/testing';
import {
  startSystem,
  stopProcess,
  waitReady,
  type RunningService,
  type ServiceName,
  type System,
} from '../support.js';
import { seed } from '../faults/flow.js';
import { createSandbox, type Sandbox } from '../faults/support.js';
import {
  MIN_INSYNC_REPLICAS,
  REPLICATION_FACTOR,
  busiestLeader,
  partitions,
  startCluster,
  systemTopics,
  waitInSync,
  waitLeadersMovedOff,
  type KafkaCluster,
} from './cluster.js';
import { runClusterScenario } from './scenario.js';

/** How long a broker stays dead (scenario 1) and the cluster below min ISR (scenario 4). */
const DOWN_MS = 15_000;
/** Seven service processes starting at once on two shared cores can take a while. */
const READY_MS = 180_000;
const INSTANCES: Record<ServiceName, number> = {
  'order-service': 2,
  'inventory-service': 2,
  'dispatcher-service': 3,
};
const REPLICATION_ENV = {
  KAFKA_REPLICATION_FACTOR: String(REPLICATION_FACTOR),
  KAFKA_MIN_INSYNC_REPLICAS: String(MIN_INSYNC_REPLICAS),
};

const until = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
const seconds = (ms: number) => Math.round(ms / 100) / 10;

describe('a three-node Kafka cluster losing brokers under load', () => {
  let sandbox: Sandbox;
  let cluster: KafkaCluster;
  let admin: Admin;
  /** Each scenario's own system (databases, topic namespace, consumer groups) on the one cluster. */
  let system: System;
  /** The system's topics and DLQs, plus the consumer offsets: everything that must be back in sync. */
  let topics: string[];

  before(async () => {
    sandbox = createSandbox('cluster');
    cluster = await startCluster(sandbox);
    admin = await cluster.admin();
  });
  after(async () => {
    await admin?.disconnect();
    await sandbox?.cleanup();
  });

  // A system per scenario, so that what one scenario breaks cannot fail the next one's checks.
  beforeEach(async () => {
    system = await startSystem(
      {
        'order-service': REPLICATION_ENV,
        'inventory-service': REPLICATION_ENV,
        'dispatcher-service': { ...REPLICATION_ENV, LOCK_RECONCILE_INTERVAL_MS: '2000' },
      },
      { kafkaBrokers: cluster.brokers, instances: INSTANCES, readyTimeoutMs: READY_MS },
    );
    await seed(system);
    topics = [...(await systemTopics(admin, system.prefix)), '__consumer_offsets'];
    await assertReplicated(admin, system.prefix, topics);
    await waitInSync(admin, topics);
  });
  afterEach(async () => {
    await system?.stop();
  });

  it('1. the broker leading most partitions of order.created and order.confirmed SIGKILLed, back 15 s later', async () => {
    const busy = [TOPICS.orderCreated, TOPICS.orderConfirmed].map((t) => topicName(system.prefix, t));
    await runClusterScenario(system, {
      scenario: 'cluster: leader broker SIGKILLed 15 s',
      count: 240,
      async fault(load) {
        const victim = await busiestLeader(admin, busy);
        const ledBefore = (await partitions(admin, busy)).filter((p) => p.leader === victim).length;
        await cluster.node(victim).stop('SIGKILL');
        const killedAt = Date.now();
        const acceptedBefore = load.accepted.length;
        // The controller fences it (broker session timeout) and the followers in sync take over.
        await waitLeadersMovedOff(admin, topics, victim);
        const failoverMs = Date.now() - killedAt;
        await until(killedAt + DOWN_MS);
        const acceptedWhileDown = load.accepted.length - acceptedBefore;
        await cluster.node(victim).start();
        await waitInSync(admin, topics);
        assert.ok(acceptedWhileDown > 0, 'orders answered 201 while the broker was dead');
        return {
          broker: victim,
          partitionsItLed: ledBefore,
          failoverS: seconds(failoverMs),
          backInSyncS: seconds(Date.now() - killedAt - DOWN_MS),
        };
      },
    });
  });

  it('2. rolling restart: each broker in turn SIGTERMed, started again, and waited for until every replica is in sync', async () => {
    await runClusterScenario(system, {
      scenario: 'cluster: rolling restart',
      count: 320,
      async fault() {
        const took: number[] = [];
        for (const node of cluster.nodes) {
          const startedAt = Date.now();
          await node.stop('SIGTERM');
          await node.start();
          await waitInSync(admin, topics);
          took.push(Date.now() - startedAt);
        }
        return { restarts: took.length, slowestRestartS: seconds(Math.max(...took)) };
      },
    });
  });

  it('3. a broker and one instance of every service SIGKILLed at the same moment, then restarted', async () => {
    const victims: [ServiceName, RunningService][] = [
      // The order-service instance the dispatchers call for releases, an inventory and a dispatcher.
      ['order-service', system.instances['order-service'][0]!],
      ['inventory-service', system.instances['inventory-service'][1]!],
      ['dispatcher-service', system.instances['dispatcher-service'][1]!],
    ];
    await runClusterScenario(system, {
      scenario: 'cluster: broker + an instance of each service SIGKILLed',
      count: 320,
      async fault() {
        const broker = await busiestLeader(admin, topics);
        const members = await Promise.all(victims.map(([name]) => groupMemberIds(admin, system, name)));
        await Promise.all([
          cluster.node(broker).stop('SIGKILL'),
          ...victims.map(([, s]) => stopProcess(s.process, 'SIGKILL')),
        ]);
        const killedAt = Date.now();
        await Promise.all([
          cluster.node(broker).start(),
          ...victims.map(async ([, s]) => {
            await s.start({ waitReady: false });
            await waitReady(s, READY_MS);
          }),
        ]);
        // Each group has its full strength again, the killed instance's member replaced by the new one.
        await Promise.all(
          victims.map(([name], i) =>
            waitForReplacedMember(admin, system, name, INSTANCES[name], members[i]!),
          ),
        );
        await waitInSync(admin, topics);
        return { broker, instancesKilled: victims.length, recoveredS: seconds(Date.now() - killedAt) };
      },
    });
  });

  it('4. two of three brokers down for 15 s (below min ISR): POST /orders still answers 201 and every order completes', async () => {
    const { figures } = await runClusterScenario(system, {
      scenario: 'cluster: 2 of 3 brokers down 15 s',
      count: 240,
      async fault(load) {
        // The survivor is the node that leads fewest partitions; the other two go at once.
        const survivor = await quietestLeader(admin, topics);
        const down = cluster.nodes.filter((n) => n.id !== survivor);
        await Promise.all(down.map((n) => n.stop('SIGKILL')));
        const downAt = Date.now();
        const acceptedBefore = load.accepted.length;
        await until(downAt + DOWN_MS);
        const acceptedWhileDown = load.accepted.length - acceptedBefore;
        assert.ok(acceptedWhileDown > 0, 'orders answered 201 while two brokers were down');
        await Promise.all(down.map((n) => n.start()));
        await waitInSync(admin, topics);
        return {
          brokersDown: down.length,
          acceptedWhileDown,
          backInSyncS: seconds(Date.now() - downAt - DOWN_MS),
        };
      },
    });
    assert.deepEqual(
      figures.refused,
      {},
      'no order refused: the outbox holds the events while Kafka cannot take them',
    );
  });
});

/**
 * The services created every topic of the system with 3 replicas and min.insync.replicas 2
 * (KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS): the broker defaults of the cluster say
 * the same, but a service that asked for 1 replica would get 1.
 */
async function assertReplicated(admin: Admin, prefix: string, topics: string[]): Promise<void> {
  const own = topics.filter((t) => t.startsWith(prefix));
  assert.equal(own.length, Object.keys(TOPICS).length * 2, `topics and DLQs: ${own.join(', ')}`);
  for (const p of await partitions(admin, own))
    assert.equal(
      p.replicas.length,
      REPLICATION_FACTOR,
      `${p.topic}/${p.partition} replicas [${p.replicas.join(',')}]`,
    );
  const configs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: own.map((name) => ({ type: 2 /* TOPIC */, name, configNames: ['min.insync.replicas'] })),
  });
  for (const { resourceName, configEntries } of configs.resources)
    assert.equal(
      configEntries[0]?.configValue,
      String(MIN_INSYNC_REPLICAS),
      `${resourceName} min.insync.replicas`,
    );
}

/** The node leading the fewest partitions of the topics (a node that leads none counts too). */
async function quietestLeader(admin: Admin, topics: string[]): Promise<number> {
  const led = new Map<number, number>([1, 2, 3].map((id) => [id, 0]));
  for (const p of await partitions(admin, topics))
    if (led.has(p.leader)) led.set(p.leader, led.get(p.leader)! + 1);
  return [...led].sort((a, b) => a[1] - b[1] || a[0] - b[0])[0]![0];
}

const groupId = (system: System, name: ServiceName) => `${system.prefix}${name}`;

async function groupMemberIds(admin: Admin, system: System, name: ServiceName): Promise<string[]> {
  const [group] = (await admin.describeGroups([groupId(system, name)])).groups;
  return (group?.members ?? []).map((m) => m.memberId);
}

/**
 * Resolves once the group is stable with `size` members and one of them joined after `before`
 * was read: the restarted instance is in, and the killed one's member (its session timed out)
 * is gone.
 */
async function waitForReplacedMember(
  admin: Admin,
  system: System,
  name: ServiceName,
  size: number,
  before: string[],
): Promise<void> {
  await waitFor(
    async () => {
      const [group] = (await admin.describeGroups([groupId(system, name)])).groups;
      return (
        group?.state === 'Stable' &&
        group.members.length === size &&
        group.members.some((m) => !before.includes(m.memberId))
      );
    },
    { timeoutMs: 120_000, intervalMs: 500, what: `${groupId(system, name)} stable with ${size} members` },
  );
}
