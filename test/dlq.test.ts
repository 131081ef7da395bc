/**
 * Dead letters end to end, three real processes: an order.created that inventory cannot apply
 * while its `reservations` table is gone goes to the DLQ with the error; `make dlq` lists it, and
 * once the table is back `make dlq-replay` applies it exactly once. A replay that still fails goes
 * back to the DLQ once, as a replay, and waits for the operator.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  createDb,
  createKafka,
  createLogger,
  createProducer,
  dlqTopic,
  listDeadLetters,
  replayDeadLetters,
  replayGroupId,
  topicName,
  type Admin,
  type Db,
  type Kafka,
  type Producer,
} from '@delivery/common';
import { client, readTopic, waitFor, type Client } from '@delivery/common/testing';
import { ROOT, startSystem, waitForConsumed, type System } from './support.js';

interface Order {
  id: number;
  status: string;
}

const PRODUCT = 501;

describe('dead letters: listed, replayed once the cause is fixed, never in a loop', () => {
  let system: System;
  let orders: Client;
  let inventory: Client;
  let inventoryDb: Db;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  let dlq: string;

  const dlqTool = (...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/dlq.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, KAFKA_TOPIC_PREFIX: system.prefix },
    });
  const list = () => listDeadLetters(kafka, admin, replayGroupId(system.prefix), dlq);
  const replay = () =>
    replayDeadLetters({ kafka, admin, producer, replayGroup: replayGroupId(system.prefix), dlqTopic: dlq });

  const breakReservations = () => inventoryDb.raw('RENAME TABLE reservations TO reservations_gone');
  const fixReservations = () => inventoryDb.raw('RENAME TABLE reservations_gone TO reservations');

  async function placeOrder(quantity: number): Promise<Order> {
    const res = await orders.post<Order>('/orders', {
      customerId: 1,
      city: 'Colombo',
      items: [{ productId: PRODUCT, price: 2.5, quantity }],
    });
    assert.equal(res.status, 201);
    return res.body;
  }

  const lettersOf = async (orderId: number) =>
    (await list()).letters.filter((l) => l.orderId === String(orderId));

  const stock = async () => (await inventory.get<{ stock: number }>(`/products/${PRODUCT}`)).body.stock;

  /** What the inventory consumer recorded for an order: its reservations (one per order, its dedup) and their items. */
  async function applied(orderId: number) {
    const [[reservations], [items]] = (await Promise.all([
      inventoryDb.raw('SELECT COUNT(*) AS n FROM reservations WHERE order_id = ?', [orderId]),
      inventoryDb.raw(
        'SELECT COUNT(*) AS n FROM reservation_items i JOIN reservations r ON r.id = i.reservation_id WHERE r.order_id = ?',
        [orderId],
      ),
    ])) as [[{ n: number }[]], [{ n: number }[]]];
    return { reservations: Number(reservations[0]!.n), items: Number(items[0]!.n) };
  }

  const confirmed = (id: number) =>
    waitFor(async () => (await orders.get<Order>(`/orders/${id}`)).body.status === 'CONFIRMED', {
      timeoutMs: 60_000,
      what: `order ${id} CONFIRMED`,
    });

  /** The inventory service's dlq_messages for the order.created DLQ, as /metrics shows it. */
  async function depth(): Promise<number | undefined> {
    const { text } = await inventory.get('/metrics');
    const line = text.split('\n').find((l) => l.startsWith('dlq_messages{') && l.includes(`topic="${dlq}"`));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  }
  const depthBecomes = (n: number) =>
    waitFor(async () => (await depth()) === n, { timeoutMs: 30_000, what: `dlq_messages ${n}` });

  const replayLines = (eventId: string) =>
    system.services['inventory-service']
      .logLines()
      .filter((l) => l.msg === `Replaying event ${eventId} from DLQ`);

  before(async () => {
    system = await startSystem({ 'inventory-service': { DLQ_DEPTH_INTERVAL: '300ms' } });
    orders = client(system.services['order-service'].url);
    inventory = client(system.services['inventory-service'].url);
    const env = system.services['inventory-service'].env;
    inventoryDb = createDb({ url: system.mysqlUrl, database: system.services['inventory-service'].database });
    kafka = createKafka({
      clientId: 'dlq-test',
      brokers: String(env.KAFKA_BROKERS).split(','),
      logger: createLogger({ service: 'test', level: 'silent' }),
    });
    admin = kafka.admin();
    await admin.connect();
    producer = createProducer(kafka);
    await producer.connect();
    dlq = dlqTopic(topicName(system.prefix, 'order.created'));
    assert.equal(
      (await inventory.post('/products', { id: PRODUCT, name: 'Salt 1kg', stock: 100 })).status,
      201,
    );
  });
  after(async () => {
    await producer?.disconnect();
    await admin?.disconnect();
    await inventoryDb?.destroy();
    await system?.stop();
  });

  it('an event dead-lettered while its table was gone is listed with its error, and applied exactly once when replayed after the fix; a second replay sends nothing', async () => {
    await breakReservations();
    const order = await placeOrder(3);
    const [letter] = await waitFor(
      async () => {
        const letters = await lettersOf(order.id);
        return letters.length > 0 ? letters : undefined;
      },
      { timeoutMs: 60_000, what: 'the dead letter' },
    );
    assert.equal(letter!.reason, 'handler_failed');
    assert.match(letter!.error, /reservations.*doesn't exist/);
    assert.equal(letter!.attempts, 5);
    assert.equal(letter!.group, `${system.prefix}inventory-service`);
    assert.equal(letter!.replays, 0);
    assert.equal(letter!.replayed, false);
    const eventId = letter!.eventId!;
    await depthBecomes(1);

    const shown = await dlqTool('list', 'order.created');
    assert.match(shown.stdout, new RegExp(`${dlq}: 1 waiting, oldest dead-lettered `));
    assert.match(
      shown.stdout,
      new RegExp(`inventory-service +handler_failed +5 +0 +${order.id} +${eventId} .*doesn't exist`),
    );

    await fixReservations();
    const replayed = await dlqTool('replay', 'order.created');
    assert.match(replayed.stdout, /1 dead letter\(s\) sent back to .*order\.created; 0 still waiting/);
    await confirmed(order.id);
    assert.equal(await stock(), 97, 'the stock was taken once');
    assert.deepEqual(await applied(order.id), { reservations: 1, items: 1 });
    const [line] = await waitFor(() => replayLines(eventId).length > 0 && replayLines(eventId));
    assert.equal(line!.replay, true);
    assert.equal(line!.replayCount, 1);
    assert.equal(line!.replayedFrom, `${dlq}/${letter!.partition}/${letter!.offset}`);
    await depthBecomes(0);

    const again = await replay();
    assert.deepEqual(again.replayed, [], 'nothing is replayed twice');
    assert.equal(again.waiting, 0);
    await waitForConsumed(system, 'inventory-service', ['order.created']);
    assert.equal(replayLines(eventId).length, 1);
    assert.equal(await stock(), 97);
    assert.deepEqual(await applied(order.id), { reservations: 1, items: 1 });
    assert.deepEqual(
      (await lettersOf(order.id)).map((l) => l.replayed),
      [true],
    );
  });

  it('a replay that still fails goes back to the DLQ once, marked as a replay, and is applied once when replayed after the fix', async () => {
    await breakReservations();
    const order = await placeOrder(4);
    const [first] = await waitFor(
      async () => {
        const letters = await lettersOf(order.id);
        return letters.length > 0 ? letters : undefined;
      },
      { timeoutMs: 60_000, what: 'the dead letter' },
    );
    const eventId = first!.eventId!;

    const sent = await replay();
    assert.deepEqual(
      sent.replayed.map((l) => l.eventId),
      [eventId],
    );
    // Once the consumer has committed everything order.created holds, the replay was handled.
    await waitForConsumed(system, 'inventory-service', ['order.created']);
    const letters = await lettersOf(order.id);
    assert.equal(letters.length, 2, 'one new dead letter, no loop');
    const back = letters[1]!;
    assert.equal(back.eventId, eventId);
    assert.equal(back.replays, 1);
    assert.equal(back.attempts, 1, 'a replay is not retried through the whole budget again');
    assert.equal(back.replayed, false);
    assert.match(back.error, /doesn't exist/);
    const topicReader = await readTopic(kafka, system.prefix, topicName(system.prefix, 'order.created'));
    try {
      // The replay has the original's key, so its partition: once it is read, the original was too.
      await waitFor(() =>
        topicReader.seen.some((m) => m.value.includes(eventId) && m.headers['x-replayed-from']),
      );
      const copies = topicReader.seen.filter((m) => m.value.includes(eventId));
      assert.equal(copies.length, 2, 'the event and one replay of it on the topic');
    } finally {
      await topicReader.stop();
    }
    await depthBecomes(1);

    await fixReservations();
    const second = await replay();
    assert.deepEqual(
      second.replayed.map((l) => [l.offset, l.replays]),
      [[back.offset, 1]],
    );
    await confirmed(order.id);
    assert.equal(await stock(), 93);
    assert.deepEqual(await applied(order.id), { reservations: 1, items: 1 });
    assert.deepEqual(
      replayLines(eventId).map((l) => l.replayCount),
      [1, 2],
    );
    await depthBecomes(0);
  });

  it('a dead letter that can never apply is discarded: recorded as dealt with, sent nowhere', async () => {
    const topic = topicName(system.prefix, 'order.created');
    await producer.send({ topic, acks: -1, messages: [{ key: '999001', value: 'not json {' }] });
    const [garbage] = await waitFor(
      async () => {
        const letters = await lettersOf(999_001);
        return letters.length > 0 ? letters : undefined;
      },
      { timeoutMs: 60_000, what: 'the dead letter' },
    );
    assert.equal(garbage!.reason, 'invalid_json');
    await depthBecomes(1);
    const onTopic = async () =>
      (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
    const before = await onTopic();

    const discarded = await replayDeadLetters({
      kafka,
      admin,
      producer,
      replayGroup: replayGroupId(system.prefix),
      dlqTopic: dlq,
      id: `${garbage!.partition}/${garbage!.offset}`,
      discard: true,
    });

    assert.deepEqual(
      discarded.replayed.map((l) => l.offset),
      [garbage!.offset],
    );
    assert.equal(await onTopic(), before, 'nothing was sent to the topic');
    assert.deepEqual(
      (await lettersOf(999_001)).map((l) => l.replayed),
      [true],
    );
    await depthBecomes(0);
  });
});
