import type { Limits } from './limits.js';

/**
 * What one order costs the machine's shared resources in the current code, counted from the
 * services' source (docs/performance.md walks through it). Keep in step with the code: the bench
 * divides the measured limits by these to get the throughput the machine could sustain.
 */
export const COST_PER_ORDER = {
  /** Transactions that write (and so wait for a redo-log flush): the whole life of an order, release included. */
  writeTransactions: {
    'order-service: POST /orders (order, items, outbox)': 1,
    'inventory: reserve stock (processed event, stock, reservation, outbox)': 1,
    'order-service: confirm (processed event, status, outbox)': 1,
    'dispatcher: queue the order (waiting_orders)': 1,
    'dispatcher: allocate (assignment, outbox)': 1,
    'order-service: record dispatch (processed event, status)': 1,
    'order-service: DELIVERED (release)': 1,
    'dispatcher: close the assignment (release)': 1,
  },
  /** Relay transactions that mark rows published: one per event at worst, fewer when batched. */
  outboxMarksAtMost: 4,
  /** Events produced and consumed once each (order.dispatched by order-service; the bench's own reads not counted). */
  kafkaHops: 4,
  /** SET NX PX on allocation, compare-and-delete on release. */
  redisCommands: 2,
  /** POST /orders and PATCH /orders/:id on order-service (the release's PATCH goes to the dispatcher). */
  httpRequestsOnBusiestService: 2,
  /** On the way to DISPATCHED: POST, reserve, confirm, queue, allocate. */
  criticalPathCommits: 5,
  /** order.created, order.inventory.updated, order.confirmed, order.dispatched (to the bench). */
  criticalPathHops: 4,
} as const;

export interface ImpliedLimits {
  commitsPerOrder: number;
  /** orders/s each resource alone would allow, using all the machine. */
  byResource: { mariadb: number; kafka: number; redis: number; http: number };
  /** The tightest of those. */
  bottleneck: { resource: string; ordersPerSecond: number };
  /**
   * Each limit was measured saturating the same 2 cores, so on one machine the costs add up:
   * 1 / Σ(cost_r / rate_r) orders/s.
   */
  sharedMachine: number;
  /** POST→DISPATCHED floor at low load: HTTP round trip + critical commits + Kafka hops, each at its p50. */
  latencyFloorP50Ms: number;
}

export function impliedLimits(l: Limits): ImpliedLimits {
  const c = COST_PER_ORDER;
  const commitsPerOrder = Object.values(c.writeTransactions).reduce((s, n) => s + n, 0) + c.outboxMarksAtMost;
  const byResource = {
    mariadb: l.mariadb.concurrentTx.perSecond / commitsPerOrder,
    kafka: l.kafka.endToEndPerSecond / c.kafkaHops,
    redis: l.redis.setNxConcurrent.perSecond / c.redisCommands,
    http: l.http.healthzConcurrent.perSecond / c.httpRequestsOnBusiestService,
  };
  const [resource, ordersPerSecond] = Object.entries(byResource).sort((a, b) => a[1] - b[1])[0]!;
  const sharedMachine = 1 / Object.values(byResource).reduce((s, r) => s + 1 / r, 0);
  const latencyFloorP50Ms =
    l.http.healthzSerial.latencyMs.p50 +
    c.criticalPathCommits * l.mariadb.serialTx.latencyMs.p50 +
    c.criticalPathHops * l.kafka.roundTrip.p50;
  const round = (x: number) => Math.round(x);
  return {
    commitsPerOrder,
    byResource: {
      mariadb: round(byResource.mariadb),
      kafka: round(byResource.kafka),
      redis: round(byResource.redis),
      http: round(byResource.http),
    },
    bottleneck: { resource, ordersPerSecond: round(ordersPerSecond) },
    sharedMachine: round(sharedMachine),
    latencyFloorP50Ms: Math.round(latencyFloorP50Ms * 100) / 100,
  };
}
