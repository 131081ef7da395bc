/**
 * Cancels in flight for the fault scenarios: every n-th order answered 201 is cancelled at some
 * moment of its life (while PENDING, once CONFIRMED, once DISPATCHED), the way a customer would:
 * POST /orders/:id/cancel or PATCH {"status":"CANCELLED"}, sometimes twice at once, and sent
 * again after a connection error or a 5xx until order-service answers. The moments come from the
 * order's status in order-service's database, watched by the test, not asked of the service.
 */
import { createDb } from '@delivery/common';
import { call } from '@delivery/common/testing';
import type { System } from '../support.js';
import type { Headers, Load, PlacedOrder } from './flow.js';

const STAGES = ['PENDING', 'CONFIRMED', 'DISPATCHED'] as const;
export type CancelStage = (typeof STAGES)[number];

/** How far along a status is: a cancel planned for a stage goes out once its order is there or past it. */
const PROGRESS: Record<string, number> = {
  PENDING: 0,
  CONFIRMED: 1,
  DISPATCHED: 2,
  DELIVERED: 3,
  REJECTED: 3,
  CANCELLED: 3,
};

export interface CancelOptions {
  /** Every n-th order answered 201 is cancelled (default 3: a third of them). */
  every?: number;
  /** How long a cancel may go unanswered (order-service down) before it counts as failed. */
  answerWithinMs?: number;
}

/** What the cancels got; verify() checks each against the order's final state. */
export interface Cancels {
  planned: number;
  /** Orders answered 200 CANCELLED, with the status they were seen in when the cancel went out. */
  cancelled: Map<number, string>;
  /** Orders answered 409 invalid_transition (DELIVERED or REJECTED first), with the status seen. */
  tooLate: Map<number, string>;
  /** A cancel without an answer in time, or with one that makes no sense. */
  failed: string[];
  /** Requests sent again after a connection error or a 5xx. */
  retried: number;
  /** Requests sent and not answered yet: a fault can strike while one is in hand. */
  inFlight: number;
  /** Cancels sent twice at once (a double click), once by each route. */
  doubled: number;
}

export interface Canceller {
  cancels: Cancels;
  /** Call once the load is done: resolves when every planned cancel has its answer (or has failed). */
  finish(): Promise<Cancels>;
  /** Gives up on the cancels still waiting (a scenario that failed on its way). */
  stop(): Promise<void>;
}

interface Plan {
  order: PlacedOrder;
  stage: CancelStage;
  /** A PENDING cancel goes out at a random moment shortly after the 201, whatever the status then. */
  notBefore: number;
  route: 'cancel' | 'patch';
  twice: boolean;
}

interface Answer {
  status: number;
  body: { status?: string; error?: { code?: string } } | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function startCanceller(
  system: System,
  load: Load,
  { every = 3, answerWithinMs = 120_000, headers = {} }: CancelOptions & { headers?: Headers } = {},
): Canceller {
  const orderUrl = system.services['order-service'].url;
  const cancels: Cancels = {
    planned: 0,
    cancelled: new Map(),
    tooLate: new Map(),
    failed: [],
    retried: 0,
    inFlight: 0,
    doubled: 0,
  };
  const waiting = new Map<number, Plan>();
  const sends: Promise<void>[] = [];
  let taken = 0;
  let finishBy: number | undefined;
  let stopped = false;

  /** The n-th order answered 201: every `every`-th one, the stages, routes and double clicks in turn. */
  const plan = (order: PlacedOrder, n: number) => {
    if (n % every !== every - 1) return;
    const k = Math.floor(n / every);
    const stage = STAGES[k % STAGES.length]!;
    const notBefore = stage === 'PENDING' ? Date.now() + Math.random() * 500 : 0;
    waiting.set(order.id, { order, stage, notBefore, route: k % 2 ? 'patch' : 'cancel', twice: k % 4 === 0 });
    cancels.planned += 1;
  };

  const request = async (id: number, route: Plan['route']): Promise<Answer | undefined> => {
    const [method, url, body] =
      route === 'cancel'
        ? ['POST', `${orderUrl}/orders/${id}/cancel`, { reason: 'fault suite' }]
        : ['PATCH', `${orderUrl}/orders/${id}`, { status: 'CANCELLED' }];
    const deadline = Date.now() + answerWithinMs;
    while (!stopped && Date.now() < deadline) {
      cancels.inFlight += 1;
      try {
        const res = await call<Answer['body']>(method, url, body, headers, { timeoutMs: 20_000 });
        // A 5xx is order-service (or its database) not able to decide now: the client asks again.
        if (res.status < 500) return { status: res.status, body: res.body };
      } catch {
        // Connection refused or cut: order-service is down or was killed with the request in hand.
      } finally {
        cancels.inFlight -= 1;
      }
      cancels.retried += 1;
      await sleep(250);
    }
    return undefined;
  };

  const send = async (p: Plan, seen: string) => {
    const routes: Plan['route'][] = p.twice ? ['cancel', 'patch'] : [p.route];
    if (p.twice) cancels.doubled += 1;
    const answers = await Promise.all(routes.map((r) => request(p.order.id, r)));
    const [first] = answers;
    const what = answers.map((a) => (a ? `${a.status} ${JSON.stringify(a.body)}` : 'no answer')).join(' / ');
    if (!first || answers.some((a) => a?.status !== first.status)) {
      if (!stopped) cancels.failed.push(`cancel of order ${p.order.id} (seen ${seen}): ${what}`);
    } else if (first.status === 200 && answers.every((a) => a!.body?.status === 'CANCELLED'))
      cancels.cancelled.set(p.order.id, seen);
    else if (first.status === 409 && answers.every((a) => a!.body?.error?.code === 'invalid_transition'))
      cancels.tooLate.set(p.order.id, seen);
    else cancels.failed.push(`cancel of order ${p.order.id} (seen ${seen}): ${what}`);
  };

  const db = createDb({
    url: system.mysqlUrl,
    database: system.services['order-service'].database,
    poolMax: 1,
  });
  const dueNow = async () => {
    const rows = (await db('orders')
      .whereIn('id', [...waiting.keys()])
      .select('id', 'status')) as {
      id: number;
      status: string;
    }[];
    return rows.flatMap((row) => {
      const p = waiting.get(Number(row.id))!;
      const due = Date.now() >= p.notBefore && PROGRESS[row.status]! >= PROGRESS[p.stage]!;
      return due ? [{ p, seen: row.status }] : [];
    });
  };

  const loop = (async () => {
    try {
      while (!stopped && (finishBy === undefined || taken < load.accepted.length || waiting.size > 0)) {
        for (; taken < load.accepted.length; taken++) plan(load.accepted[taken]!, taken);
        if (waiting.size > 0) {
          for (const { p, seen } of await dueNow().catch(() => [])) {
            waiting.delete(p.order.id);
            sends.push(send(p, seen));
          }
        }
        if (finishBy !== undefined && Date.now() > finishBy) break;
        await sleep(50);
      }
      for (const p of waiting.values())
        if (!stopped) cancels.failed.push(`order ${p.order.id} never seen ${p.stage} or past it`);
      await Promise.all(sends);
    } finally {
      await db.destroy();
    }
  })();

  return {
    cancels,
    async finish() {
      finishBy = Date.now() + answerWithinMs;
      await loop;
      return cancels;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** The cancels as figures for the report: what was asked, what was answered, and when. */
export function cancelFigures(cancels: Cancels) {
  const byStage: Record<string, number> = {};
  for (const seen of cancels.cancelled.values()) byStage[seen] = (byStage[seen] ?? 0) + 1;
  return {
    planned: cancels.planned,
    answered200: cancels.cancelled.size,
    answered409: cancels.tooLate.size,
    cancelledWhile: byStage,
    retried: cancels.retried,
    doubled: cancels.doubled,
    failed: cancels.failed.length,
  };
}
