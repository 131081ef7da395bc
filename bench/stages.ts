import type { Db } from '@delivery/common';
import type { OrderEvents } from './events.js';
import type { Dbs } from './verify.js';
import { summarize, type Summary } from './stats.js';

/**
 * Where an order's time goes, hop by hop: event occurredAt (written inside the transaction),
 * the outbox row's published_at (relay: when the broker acknowledged it), and the bench's
 * receipt of order.dispatched. One clock: same machine. A consumer's own time and the Kafka hop
 * before it are one stage: the consumers keep no per-event row that says when they began.
 */
export interface StageRow {
  stage: string;
  ms: Summary;
}

async function publishedAt(db: Db, ids: string[]) {
  const out = new Map<string, number>();
  for (let i = 0; i < ids.length; i += 1_000) {
    const rows = (await db('outbox')
      .select('event_id')
      .select(db.raw('UNIX_TIMESTAMP(published_at) * 1000 as t'))
      .whereIn('event_id', ids.slice(i, i + 1_000))) as { event_id: string; t: string | null }[];
    for (const r of rows) if (r.t !== null) out.set(r.event_id, Number(r.t));
  }
  return out;
}

export interface Breakdown {
  stages: StageRow[];
}

export async function stageBreakdown(
  dbs: Dbs,
  orders: { orderId: number; sentAt: number; respondedAt: number; events: OrderEvents }[],
): Promise<Breakdown> {
  const full = orders.filter(
    (o) => o.events.created && o.events.inventory && o.events.confirmed && o.events.dispatched,
  );
  const ids = (pick: (e: OrderEvents) => string | undefined) => full.map((o) => pick(o.events)!);
  const [createdPub, inventoryPub, confirmedPub, dispatchedPub] = await Promise.all([
    publishedAt(
      dbs.orders,
      ids((e) => e.created?.eventId),
    ),
    publishedAt(
      dbs.inventory,
      ids((e) => e.inventory?.eventId),
    ),
    publishedAt(
      dbs.orders,
      ids((e) => e.confirmed?.eventId),
    ),
    publishedAt(
      dbs.dispatch,
      ids((e) => e.dispatched?.eventId),
    ),
  ]);
  const stages: [string, (o: (typeof full)[number]) => number | undefined][] = [
    [
      'POST sent → order.created written (HTTP, validation, tx)',
      (o) => o.events.created!.occurredAt - o.sentAt,
    ],
    [
      'order.created written → POST answered (commit, response)',
      (o) => o.respondedAt - o.events.created!.occurredAt,
    ],
    [
      'order.created written → published (commit, order relay)',
      (o) => sub(createdPub.get(o.events.created!.eventId), o.events.created!.occurredAt),
    ],
    [
      'order.created published → order.inventory.updated written (Kafka hop, reservation)',
      (o) => sub(o.events.inventory!.occurredAt, createdPub.get(o.events.created!.eventId)),
    ],
    [
      'order.inventory.updated written → published (commit, inventory relay)',
      (o) => sub(inventoryPub.get(o.events.inventory!.eventId), o.events.inventory!.occurredAt),
    ],
    [
      'order.inventory.updated published → order.confirmed written (Kafka hop, confirmation)',
      (o) => sub(o.events.confirmed!.occurredAt, inventoryPub.get(o.events.inventory!.eventId)),
    ],
    [
      'order.confirmed written → published (commit, order relay)',
      (o) => sub(confirmedPub.get(o.events.confirmed!.eventId), o.events.confirmed!.occurredAt),
    ],
    [
      'order.confirmed published → order.dispatched written (Kafka hop, queue, allocate)',
      (o) => sub(o.events.dispatched!.occurredAt, confirmedPub.get(o.events.confirmed!.eventId)),
    ],
    [
      'order.dispatched written → published (commit, dispatcher relay)',
      (o) => sub(dispatchedPub.get(o.events.dispatched!.eventId), o.events.dispatched!.occurredAt),
    ],
    [
      'order.dispatched published → received by the bench (Kafka hop)',
      (o) => sub(o.events.dispatched!.receivedAt, dispatchedPub.get(o.events.dispatched!.eventId)),
    ],
    ['total: POST sent → order.dispatched received', (o) => o.events.dispatched!.receivedAt - o.sentAt],
  ];
  const rows = stages.map(([stage, fn]) => ({
    stage,
    ms: summarize(full.map(fn).filter((v): v is number => v !== undefined)),
  }));
  return { stages: rows };
}

function sub(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a - b;
}
