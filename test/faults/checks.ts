/**
 * "Nothing lost, nothing applied twice, nothing double-booked", checked in the three services'
 * own databases and the DLQ topics once the flow has settled, and the figures the suite prints.
 */
import { appendFileSync } from 'node:fs';
import { createDb, createKafka, createLogger, dlqTopic, TOPICS, topicName, type Db } from '@delivery/common';
import { waitFor } from '@delivery/common/testing';
import type { ServiceName, System } from '../support.js';
import { FIXTURE, type Fixture, type Load } from './flow.js';

const TERMINAL = ['DELIVERED', 'REJECTED'];

/** A knex on each service's database of the system; close() when done. */
export function openDatabases(system: System): Record<ServiceName, Db> & { close(): Promise<void> } {
  const open = (name: ServiceName) =>
    createDb({ url: system.mysqlUrl, database: system.services[name].database, poolMax: 2 });
  const dbs = {
    'order-service': open('order-service'),
    'inventory-service': open('inventory-service'),
    'dispatcher-service': open('dispatcher-service'),
  };
  return { ...dbs, close: async () => void (await Promise.all(Object.values(dbs).map((d) => d.destroy()))) };
}

const count = async (db: Db, table: string, where: (q: ReturnType<Db>) => unknown = () => undefined) => {
  const q = db(table);
  where(q);
  const row = (await q.count({ n: '*' }).first()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
};

/** Orders placed and not yet in a final state: what is in flight when a fault begins. */
export async function ordersInFlight(system: System): Promise<number> {
  const dbs = openDatabases(system);
  try {
    return await count(dbs['order-service'], 'orders', (q) => q.whereNotIn('status', TERMINAL));
  } finally {
    await dbs.close();
  }
}

/**
 * Waits until the flow has come to rest: every order DELIVERED or REJECTED (delivered ones know
 * their vehicle), every outbox row published, nobody waiting and no vehicle allocated.
 */
export async function settle(system: System, timeoutMs = 180_000): Promise<void> {
  const dbs = openDatabases(system);
  const [orders, inventory, dispatch] = [
    dbs['order-service'],
    dbs['inventory-service'],
    dbs['dispatcher-service'],
  ];
  let last = '';
  try {
    await waitFor(
      async () => {
        const state = {
          open: await count(orders, 'orders', (q) => q.whereNotIn('status', TERMINAL)),
          noVehicle: await count(orders, 'orders', (q) =>
            q.where({ status: 'DELIVERED' }).whereNull('vehicle_number'),
          ),
          unpublished:
            (await count(orders, 'outbox', (q) => q.whereNull('published_at'))) +
            (await count(inventory, 'outbox', (q) => q.whereNull('published_at'))) +
            (await count(dispatch, 'outbox', (q) => q.whereNull('published_at'))),
          waiting: await count(dispatch, 'waiting_orders'),
          active: await count(dispatch, 'assignments', (q) => q.where({ status: 'ACTIVE' })),
        };
        last = JSON.stringify(state);
        return Object.values(state).every((n) => n === 0);
      },
      { timeoutMs, intervalMs: 250, what: 'the flow to settle' },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last state ${last}`);
  } finally {
    await dbs.close();
  }
}

export type Figures = {
  scenario: string;
  attempted: number;
  accepted: number;
  refused: Record<string, number>;
  inFlightAtFault: number;
  lost: number;
  doubleAllocated: number;
  appliedTwice: number;
  dlq: number;
  problems: string[];
};

interface OrderRow {
  id: number;
  status: string;
  vehicle_number: string | null;
}

/** Every check of the scenario, as numbers; `problems` says what each non-zero one is made of. */
export async function verify(
  system: System,
  {
    scenario,
    load,
    inFlightAtFault,
    fixture = FIXTURE,
  }: { scenario: string; load: Load; inFlightAtFault: number; fixture?: Fixture },
): Promise<Figures> {
  const dbs = openDatabases(system);
  const problems: string[] = [];
  try {
    const ordersDb = dbs['order-service'];
    const orders = new Map(
      ((await ordersDb('orders').select('id', 'status', 'vehicle_number')) as OrderRow[]).map((o) => [
        Number(o.id),
        o,
      ]),
    );
    const items = (await ordersDb('order_items').select('order_id', 'product_id', 'quantity')) as {
      order_id: number;
      product_id: number;
      quantity: number;
    }[];

    // Lost: answered 201 but not in the database, or not in a final state.
    let lost = 0;
    for (const placed of load.accepted) {
      const row = orders.get(placed.id);
      if (!row || !TERMINAL.includes(row.status)) {
        lost += 1;
        problems.push(`order ${placed.id} answered 201 is ${row?.status ?? 'missing'}`);
      }
    }
    for (const row of orders.values())
      if (!TERMINAL.includes(row.status)) problems.push(`order ${row.id} (no 201 seen) is ${row.status}`);

    const appliedTwice =
      (await checkInventory(dbs['inventory-service'], orders, items, fixture, problems)) +
      (await checkOutboxes(dbs, orders, problems));
    const doubleAllocated = await checkAssignments(dbs['dispatcher-service'], orders, problems);
    const dlq = await dlqMessages(system);
    // Faults are answered 503 (a dependency down) or 502 (a peer down); a 500 is a fault not understood.
    const http500 = [...Object.values(system.services), ...system.dispatchers.slice(1)]
      .flatMap((s) => s.logLines())
      .filter((l) => (l.res as { statusCode?: number } | undefined)?.statusCode === 500);
    for (const l of http500.slice(0, 5)) problems.push(`HTTP 500: ${String(l.msg)}`);
    return {
      scenario,
      attempted: load.attempted,
      accepted: load.accepted.length,
      refused: load.refused,
      inFlightAtFault,
      lost,
      doubleAllocated,
      appliedTwice,
      dlq,
      problems,
    };
  } finally {
    await dbs.close();
  }
}

/** One decision per order, matching its status; stock = initial − what RESERVED decisions took. */
async function checkInventory(
  db: Db,
  orders: Map<number, OrderRow>,
  items: { order_id: number; product_id: number; quantity: number }[],
  fixture: Fixture,
  problems: string[],
): Promise<number> {
  let wrong = 0;
  const decisions = (await db('reservations')
    .select('order_id', 'status')
    .count({ n: '*' })
    .groupBy('order_id', 'status')) as { order_id: number; status: string; n: number }[];
  const byOrder = new Map<number, string[]>();
  for (const d of decisions)
    byOrder.set(Number(d.order_id), [
      ...(byOrder.get(Number(d.order_id)) ?? []),
      ...Array<string>(Number(d.n)).fill(d.status),
    ]);
  for (const [id, order] of orders) {
    const got = byOrder.get(id) ?? [];
    const want = order.status === 'REJECTED' ? 'REJECTED' : 'RESERVED';
    if (got.length !== 1 || got[0] !== want) {
      // More than one decision is a reservation applied twice; none is a lost event (see lost).
      wrong += Math.max(0, got.length - 1);
      problems.push(`order ${id} (${order.status}) has inventory decisions [${got.join(', ')}]`);
    }
  }
  const taken = new Map<number, number>();
  for (const item of items) {
    if (orders.get(Number(item.order_id))?.status === 'REJECTED') continue;
    taken.set(item.product_id, (taken.get(item.product_id) ?? 0) + item.quantity);
  }
  const stock = new Map(
    ((await db('products').select('id', 'stock')) as { id: number; stock: number }[]).map((p) => [
      p.id,
      p.stock,
    ]),
  );
  for (const { id, stock: initial } of fixture.products) {
    const expected = initial - (taken.get(id) ?? 0);
    if (stock.get(id) !== expected) {
      wrong += 1;
      problems.push(
        `product ${id}: stock ${stock.get(id)}, expected ${initial} − ${taken.get(id) ?? 0} = ${expected}`,
      );
    }
  }
  return wrong;
}

/** Each service wrote each event once per order: a repeated effect would leave an extra outbox row. */
async function checkOutboxes(
  dbs: ReturnType<typeof openDatabases>,
  orders: Map<number, OrderRow>,
  problems: string[],
): Promise<number> {
  const perOrder = async (db: Db, topic: string) =>
    (await db('outbox').select('message_key').count({ n: '*' }).where({ topic }).groupBy('message_key')) as {
      message_key: string;
      n: number;
    }[];
  const expectations: [ServiceName, string, (o: OrderRow) => boolean][] = [
    ['order-service', TOPICS.orderCreated, () => true],
    ['order-service', TOPICS.orderConfirmed, (o) => o.status !== 'REJECTED'],
    ['inventory-service', TOPICS.orderInventoryUpdated, () => true],
    ['dispatcher-service', TOPICS.orderDispatched, (o) => o.status !== 'REJECTED'],
  ];
  let extra = 0;
  for (const [service, topic, expected] of expectations) {
    const counts = new Map(
      (await perOrder(dbs[service], topic)).map((r) => [Number(r.message_key), Number(r.n)]),
    );
    for (const [id, order] of orders) {
      const want = expected(order) ? 1 : 0;
      const got = counts.get(id) ?? 0;
      if (got !== want) {
        extra += Math.max(0, got - want);
        problems.push(`${service} wrote ${got} ${topic} for order ${id} (${order.status}), expected ${want}`);
      }
    }
  }
  return extra;
}

interface AssignmentRow {
  order_id: number;
  vehicle_number: string;
  status: string;
  created_at: Date;
  released_at: Date | null;
}

/** No vehicle carries two orders at once, no order has two vehicles, and order-service agrees on each vehicle. */
async function checkAssignments(db: Db, orders: Map<number, OrderRow>, problems: string[]): Promise<number> {
  const rows = (await db('assignments as a')
    .join('vehicles as v', 'v.id', 'a.vehicle_id')
    .select('a.order_id', 'v.vehicle_number', 'a.status', 'a.created_at', 'a.released_at')
    .orderBy('a.id')) as AssignmentRow[];
  let double = 0;
  const byOrder = new Map<number, AssignmentRow[]>();
  const byVehicle = new Map<string, AssignmentRow[]>();
  for (const row of rows) {
    byOrder.set(Number(row.order_id), [...(byOrder.get(Number(row.order_id)) ?? []), row]);
    byVehicle.set(row.vehicle_number, [...(byVehicle.get(row.vehicle_number) ?? []), row]);
  }
  for (const [id, list] of byOrder) {
    if (list.length > 1) {
      double += list.length - 1;
      problems.push(`order ${id} has ${list.length} assignments`);
    }
    const order = orders.get(id);
    if (order?.vehicle_number !== list[0]!.vehicle_number)
      problems.push(
        `order ${id}: order-service says ${order?.vehicle_number}, dispatcher ${list[0]!.vehicle_number}`,
      );
  }
  for (const [vehicle, list] of byVehicle) {
    // Ordered by id (allocation order): each must start after the previous one was released.
    for (let i = 1; i < list.length; i++) {
      const [prev, next] = [list[i - 1]!, list[i]!];
      if (prev.released_at === null || prev.released_at > next.created_at) {
        double += 1;
        problems.push(`${vehicle} given to order ${next.order_id} while carrying order ${prev.order_id}`);
      }
    }
  }
  for (const [id, order] of orders) {
    const want = order.status === 'REJECTED' ? 0 : 1;
    if ((byOrder.get(id)?.length ?? 0) < want)
      problems.push(`order ${id} (${order.status}) has no assignment`);
  }
  return double;
}

/** Messages in the system's four DLQ topics. */
export async function dlqMessages(system: System): Promise<number> {
  const env = system.services['order-service'].env;
  const admin = createKafka({
    clientId: 'faults-dlq-count',
    brokers: String(env.KAFKA_BROKERS).split(','),
    logger: createLogger({ service: 'test', level: 'silent' }),
  }).admin();
  await admin.connect();
  try {
    let total = 0;
    for (const topic of Object.values(TOPICS)) {
      const offsets = await admin.fetchTopicOffsets(dlqTopic(topicName(system.prefix, topic)));
      total += offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
    }
    return total;
  } finally {
    await admin.disconnect();
  }
}

/** Print the scenario's figures and add them to the suite's summary (FAULT_FIGURES, see scripts/test-faults.sh). */
export function report(figures: { scenario: string; problems?: string[] } & Record<string, unknown>): void {
  const { problems = [], ...numbers } = figures;
  console.log(`[faults] ${JSON.stringify(numbers)}`);
  for (const p of problems.slice(0, 30)) console.log(`[faults]   ${p}`);
  if (process.env.FAULT_FIGURES) appendFileSync(process.env.FAULT_FIGURES, `${JSON.stringify(numbers)}\n`);
}

/** Orders waiting in a city where a vehicle is free: what DESIGN.md §5.4 says must not stay so. */
export async function waitingBesideFreeVehicle(system: System): Promise<number[]> {
  const dbs = openDatabases(system);
  try {
    const db = dbs['dispatcher-service'];
    const rows = (await db('waiting_orders as w')
      .select('w.order_id')
      .whereExists(
        db('vehicles as v')
          .select(db.raw('1'))
          .whereRaw('v.city_key = w.city_key')
          .whereNotExists(db('assignments as a').select(db.raw('1')).whereRaw('a.active_vehicle_id = v.id')),
      )) as { order_id: number }[];
    return rows.map((r) => Number(r.order_id));
  } finally {
    await dbs.close();
  }
}

function groupAdmin(system: System, service: ServiceName) {
  return createKafka({
    clientId: 'faults-group-watch',
    brokers: String(system.services[service].env.KAFKA_BROKERS).split(','),
    logger: createLogger({ service: 'test', level: 'silent' }),
  }).admin();
}

/** The member ids of the service's consumer group now. */
export async function groupMembers(system: System, service: ServiceName): Promise<string[]> {
  const admin = groupAdmin(system, service);
  await admin.connect();
  try {
    const [group] = (await admin.describeGroups([`${system.prefix}${service}`])).groups;
    return (group?.members ?? []).map((m) => m.memberId);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Resolves once the service's consumer group is stable with `members` members, none of them one
 * of `gone` (the members of a killed process stay in the group until their session times out).
 */
export async function waitForGroup(
  system: System,
  service: ServiceName,
  members: number,
  gone: string[] = [],
): Promise<void> {
  const admin = groupAdmin(system, service);
  await admin.connect();
  try {
    const groupId = `${system.prefix}${service}`;
    await waitFor(
      async () => {
        const [group] = (await admin.describeGroups([groupId])).groups;
        return (
          group?.state === 'Stable' &&
          group.members.length === members &&
          group.members.every((m) => !gone.includes(m.memberId))
        );
      },
      { timeoutMs: 90_000, intervalMs: 250, what: `${members} stable member(s) in ${groupId}` },
    );
  } finally {
    await admin.disconnect();
  }
}
