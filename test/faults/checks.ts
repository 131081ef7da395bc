/**
 * "Nothing lost, nothing applied twice, nothing double-booked", checked in the three services'
 * own databases and the DLQ topics once the flow has settled, and the figures the suite prints.
 */
import { appendFileSync } from 'node:fs';
import { createDb, createKafka, createLogger, dlqTopic, TOPICS, topicName, type Db } from '@delivery/common';
import { waitFor } from '@delivery/common/testing';
import type { ServiceName, System } from '../support.js';
import { cancelFigures, type Cancels } from './cancellations.js';
import { FIXTURE, type Fixture, type Load } from './flow.js';
import {
  formatLines,
  readRecords,
  sameLines,
  type AssignmentRow,
  type Lines,
  type OrderRow,
  type Records,
  type ReservationRow,
} from './records.js';

/** Where an order's life ends: nothing moves it on from these. */
const TERMINAL = ['DELIVERED', 'REJECTED', 'CANCELLED'];
/** Delivered or cancelled: order-service wrote an event for it that the dispatcher must have consumed. */
const FINISHED = ['DELIVERED', 'CANCELLED'];

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
 * Waits until the flow has come to rest: every order DELIVERED, REJECTED or CANCELLED (delivered
 * ones know their vehicle), every outbox row published, every delivery and cancellation heard by
 * the dispatcher, nobody waiting and no vehicle allocated.
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
          unheard: (await unfinishedInDispatcher(orders, dispatch)).length,
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

/** Orders delivered or cancelled in order-service that the dispatcher has not recorded as finished. */
async function unfinishedInDispatcher(orders: Db, dispatch: Db): Promise<number[]> {
  const finished = new Set(
    ((await dispatch('finished_orders').pluck('order_id')) as (number | string)[]).map(Number),
  );
  const ids = (await orders('orders').whereIn('status', FINISHED).pluck('id')) as (number | string)[];
  return ids.map(Number).filter((id) => !finished.has(id));
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
  /** Orders CANCELLED at the end. */
  cancelled: number;
  /** What the scenario's cancels asked and got (cancellations.ts), when it cancels. */
  cancels?: ReturnType<typeof cancelFigures> & ReturnType<typeof cancelOutcomes>;
  /** Figures the fault reports of itself (e.g. how many processes it killed). */
  fault?: Record<string, number>;
  problems: string[];
};

/** An order keeps the stock reserved for it unless inventory refused it or it was cancelled. */
const holdsStock = (o: OrderRow) => o.status !== 'REJECTED' && o.status !== 'CANCELLED';

/** Every check of the scenario, as numbers; `problems` says what each non-zero one is made of. */
export async function verify(
  system: System,
  {
    scenario,
    load,
    inFlightAtFault,
    cancels,
    fixture = FIXTURE,
  }: { scenario: string; load: Load; inFlightAtFault: number; cancels?: Cancels; fixture?: Fixture },
): Promise<Figures> {
  const dbs = openDatabases(system);
  const problems: string[] = [];
  try {
    const records = await readRecords(dbs);
    const { orders } = records;

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
    checkCancels(orders, cancels, problems);

    const appliedTwice =
      (await checkInventory(dbs['inventory-service'], records, fixture, problems)) +
      (await checkOutboxes(dbs, records, problems));
    const doubleAllocated = checkAssignments(records, problems);
    await checkFinishedOrders(dbs['dispatcher-service'], orders, problems);
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
      cancelled: [...orders.values()].filter((o) => o.status === 'CANCELLED').length,
      ...(cancels ? { cancels: { ...cancelFigures(cancels), ...cancelOutcomes(records) } } : {}),
      problems,
    };
  } finally {
    await dbs.close();
  }
}

/**
 * Each cancel's answer matches its order's end (200: CANCELLED; 409: DELIVERED or REJECTED, and
 * a 200 never came after the order was seen delivered or refused), and no order is CANCELLED
 * that nobody was told was cancelled.
 */
function checkCancels(orders: Map<number, OrderRow>, cancels: Cancels | undefined, problems: string[]): void {
  for (const [id, seen] of cancels?.cancelled ?? []) {
    const status = orders.get(id)?.status;
    if (status !== 'CANCELLED') problems.push(`order ${id} answered 200 to its cancel is ${status}`);
    if (seen === 'DELIVERED' || seen === 'REJECTED')
      problems.push(`order ${id} answered 200 to a cancel sent once it was ${seen}`);
  }
  for (const id of cancels?.tooLate.keys() ?? []) {
    const status = orders.get(id)?.status;
    if (status !== 'DELIVERED' && status !== 'REJECTED')
      problems.push(`order ${id} answered 409 to its cancel is ${status}`);
  }
  for (const [id, order] of orders)
    if (order.status === 'CANCELLED' && !cancels?.cancelled.has(id))
      problems.push(`order ${id} is CANCELLED but no cancel of it was answered 200`);
  problems.push(...(cancels?.failed ?? []));
}

/** How the cancelled orders ended in inventory and the dispatcher. */
function cancelOutcomes({ orders, reservations, assignmentsOf }: Records) {
  const outcomes = { freedVehicle: 0, stockReturned: 0, beforeReservation: 0, afterRefusal: 0 };
  for (const [id, order] of orders) {
    if (order.status !== 'CANCELLED') continue;
    if (assignmentsOf.has(id)) outcomes.freedVehicle += 1;
    const reservation = reservations.get(id)?.[0];
    if (reservation?.status === 'REJECTED') outcomes.afterRefusal += 1;
    else if (reservation?.status === 'CANCELLED')
      outcomes[reservation.items.size > 0 ? 'stockReturned' : 'beforeReservation'] += 1;
  }
  return outcomes;
}

/**
 * One decision per order, matching its status, and stock = initial − what the orders that still
 * hold stock reserved: a cancelled order's stock came back exactly once (more would leave the
 * stock above that), a refused one never took any.
 */
async function checkInventory(
  db: Db,
  { orders, items, reservations }: Records,
  fixture: Fixture,
  problems: string[],
): Promise<number> {
  let wrong = 0;
  for (const [id, order] of orders) {
    const got = reservations.get(id) ?? [];
    // More than one decision is a reservation applied twice; none is a lost event (see lost).
    wrong += Math.max(0, got.length - 1);
    const why =
      got.length === 1
        ? reservationMismatch(order, items.get(id) ?? new Map(), got[0]!)
        : 'no single decision';
    if (why) {
      const shown = got.map((r) => `${r.status}${r.cancelled ? ' cancelled' : ''} ${formatLines(r.items)}`);
      problems.push(`order ${id} (${order.status}): inventory ${why} [${shown.join(', ')}]`);
    }
  }
  const held = new Map<number, number>();
  for (const [id, order] of orders)
    if (holdsStock(order))
      for (const [productId, quantity] of items.get(id) ?? [])
        held.set(productId, (held.get(productId) ?? 0) + quantity);
  const stock = new Map(
    ((await db('products').select('id', 'stock')) as { id: number; stock: number }[]).map((p) => [
      p.id,
      p.stock,
    ]),
  );
  for (const { id, stock: initial } of fixture.products) {
    const expected = initial - (held.get(id) ?? 0);
    const now = stock.get(id);
    if (now !== expected) {
      wrong += 1;
      const above = now !== undefined && now > expected ? ': more given back than was taken' : '';
      problems.push(
        `product ${id}: stock ${now}, expected ${initial} − ${held.get(id) ?? 0} held by live orders = ${expected}${above}`,
      );
    }
  }
  return wrong;
}

/** Why an order's one reservation does not fit the order's final status, if it does not. */
function reservationMismatch(order: OrderRow, asked: Lines, r: ReservationRow): string | undefined {
  const took = r.items.size > 0;
  if (order.status === 'REJECTED')
    return r.status === 'REJECTED' && !r.cancelled && !took ? undefined : 'did not refuse it';
  if (order.status === 'CANCELLED') {
    if (!r.cancelled) return 'never applied its cancel';
    // Given back (the items stay as the record of what came back), a tombstone (the cancel came
    // before order.created: nothing taken, nothing ever will be), or refused before the cancel.
    if (r.status === 'CANCELLED' && (!took || sameLines(r.items, asked))) return undefined;
    if (r.status === 'REJECTED' && !took) return undefined;
    return 'holds or gave back other stock than it asked for';
  }
  if (r.status === 'RESERVED' && !r.cancelled && sameLines(r.items, asked)) return undefined;
  return 'does not hold what it asked for';
}

/** How many of a topic's events a service wrote for an order: exactly n, or [min, max] when the records cannot tell. */
type Expected = number | [number, number];

/**
 * order.confirmed: once for an order inventory reserved; for a cancelled one, once if it got a
 * vehicle, never if inventory never reserved it, and either when the cancel raced the answer.
 */
function confirmations(
  order: OrderRow,
  reservation: ReservationRow | undefined,
  assigned: boolean,
): Expected {
  if (order.status === 'REJECTED') return 0;
  if (order.status !== 'CANCELLED') return 1;
  if (assigned) return 1;
  return reservation?.status === 'CANCELLED' && reservation.items.size > 0 ? [0, 1] : 0;
}

/** Each service wrote each event once per order (or not at all): a repeated effect would leave an extra outbox row. */
async function checkOutboxes(
  dbs: ReturnType<typeof openDatabases>,
  { orders, reservations, assignmentsOf }: Records,
  problems: string[],
): Promise<number> {
  const perOrder = async (db: Db, topic: string) =>
    (await db('outbox').select('message_key').count({ n: '*' }).where({ topic }).groupBy('message_key')) as {
      message_key: string;
      n: number;
    }[];
  const reservation = (o: OrderRow) => reservations.get(o.id)?.[0];
  const assigned = (o: OrderRow) => assignmentsOf.get(o.id)?.length ?? 0;
  const expectations: [ServiceName, string, (o: OrderRow) => Expected][] = [
    ['order-service', TOPICS.orderCreated, () => 1],
    ['order-service', TOPICS.orderConfirmed, (o) => confirmations(o, reservation(o), assigned(o) > 0)],
    ['order-service', TOPICS.orderDelivered, (o) => (o.status === 'DELIVERED' ? 1 : 0)],
    ['order-service', TOPICS.orderCancelled, (o) => (o.status === 'CANCELLED' ? 1 : 0)],
    // A cancel that overtook order.created leaves a tombstone: inventory decides and answers nothing.
    [
      'inventory-service',
      TOPICS.orderInventoryUpdated,
      (o) => (reservation(o)?.status === 'CANCELLED' && reservation(o)!.items.size === 0 ? 0 : 1),
    ],
    [
      'dispatcher-service',
      TOPICS.orderDispatched,
      (o) => (o.status === 'REJECTED' ? 0 : o.status === 'CANCELLED' ? assigned(o) : 1),
    ],
  ];
  let extra = 0;
  for (const [service, topic, expected] of expectations) {
    const counts = new Map(
      (await perOrder(dbs[service], topic)).map((r) => [Number(r.message_key), Number(r.n)]),
    );
    for (const [id, order] of orders) {
      const want = expected(order);
      const [min, max] = typeof want === 'number' ? [want, want] : want;
      const got = counts.get(id) ?? 0;
      if (got < min || got > max) {
        extra += Math.max(0, got - max);
        const wanted = min === max ? `${min}` : `${min} to ${max}`;
        problems.push(
          `${service} wrote ${got} ${topic} for order ${id} (${order.status}), expected ${wanted}`,
        );
      }
    }
  }
  return extra;
}

/**
 * No vehicle carries two orders at once, no order has two vehicles, order-service agrees on each
 * vehicle, and no cancelled order holds one.
 */
function checkAssignments({ orders, assignments, assignmentsOf }: Records, problems: string[]): number {
  let double = 0;
  const byVehicle = new Map<string, AssignmentRow[]>();
  for (const row of assignments)
    byVehicle.set(row.vehicle_number, [...(byVehicle.get(row.vehicle_number) ?? []), row]);
  for (const [id, list] of assignmentsOf) {
    if (list.length > 1) {
      double += list.length - 1;
      problems.push(`order ${id} has ${list.length} assignments`);
    }
    const order = orders.get(id);
    const vehicle = list[0]!.vehicle_number;
    // A cancel can overtake order.dispatched: order-service then never learns the vehicle.
    const unheard = order?.status === 'CANCELLED' && order.vehicle_number === null;
    if (order?.vehicle_number !== vehicle && !unheard)
      problems.push(`order ${id}: order-service says ${order?.vehicle_number}, dispatcher ${vehicle}`);
    if (order?.status === 'CANCELLED' && list.some((a) => a.status === 'ACTIVE'))
      problems.push(`cancelled order ${id} still holds ${vehicle}`);
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
    const given = assignmentsOf.has(id);
    if (order.status === 'REJECTED' && given) problems.push(`order ${id} (REJECTED) was given a vehicle`);
    if (holdsStock(order) && !given) problems.push(`order ${id} (${order.status}) has no assignment`);
    if (order.status === 'CANCELLED' && !given && order.vehicle_number !== null)
      problems.push(
        `order ${id} (CANCELLED) names ${order.vehicle_number}, which the dispatcher never gave it`,
      );
  }
  return double;
}

/**
 * The dispatcher heard every delivery and cancellation (finished_orders, with the same outcome,
 * and nothing else) and keeps no order that has ended in its queues.
 */
async function checkFinishedOrders(db: Db, orders: Map<number, OrderRow>, problems: string[]): Promise<void> {
  const finished = new Map(
    (
      (await db('finished_orders').select('order_id', 'outcome')) as { order_id: number; outcome: string }[]
    ).map((r) => [Number(r.order_id), r.outcome]),
  );
  const waiting = new Set(
    ((await db('waiting_orders').pluck('order_id')) as (number | string)[]).map(Number),
  );
  for (const [id, order] of orders) {
    const want = FINISHED.includes(order.status) ? order.status : undefined;
    if (finished.get(id) !== want)
      problems.push(`dispatcher has order ${id} (${order.status}) as finished: ${finished.get(id) ?? 'no'}`);
    if (TERMINAL.includes(order.status) && waiting.has(id))
      problems.push(`order ${id} (${order.status}) still waits for a vehicle`);
  }
}

/** Messages in the system's DLQ topics, one beside each topic. */
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
