import type { Limits } from './limits.js';

/**
 * What one order costs the machine's shared resources in the current code, counted from the
 * services' source (docs/performance.md walks through it). Keep in step with the code: the bench
 * divides the measured limits by these to get the throughput the machine could sustain.
 *
 * SQL statements are the unit for MariaDB: on this machine a statement costs about the same
 * whether it is a BEGIN, a COMMIT (group commit absorbs the fsync) or a one-row INSERT, on the
 * server and in the Node client alike (the limit test's single-row transactions of 3 statements
 * run at a third of its autocommit inserts' rate).
 */
export const COST_PER_ORDER = {
  /** Statements of each step, relays excluded. */
  statements: {
    'order-service POST /orders: BEGIN, INSERT order, INSERT items, UPDATE number, SELECT, INSERT outbox, COMMIT': 7,
    'inventory reserve: BEGIN, INSERT processed, SELECT reservation, UPDATE stock, INSERT reservation, INSERT items, INSERT outbox, COMMIT': 8,
    'order-service confirm: BEGIN, INSERT processed, SELECT … FOR UPDATE, UPDATE, INSERT outbox, COMMIT': 6,
    'dispatcher allocate: BEGIN, lock city, SELECT assignment, SELECT waiting, SELECT free vehicles, INSERT assignment, INSERT outbox, COMMIT': 8,
    'order-service record dispatch: BEGIN, INSERT processed, UPDATE, COMMIT': 4,
    'dispatcher release: SELECT vehicle, SELECT assignment, BEGIN, UPDATE assignment, UPDATE vehicle, COMMIT, then serve the queue: BEGIN, lock city, SELECT waiting, COMMIT': 10,
    'order-service DELIVERED (called by the release): UPDATE, SELECT': 2,
  },
  /** A relay cycle: BEGIN, SELECT … FOR UPDATE SKIP LOCKED, UPDATE published_at, COMMIT; it publishes a batch. */
  statementsPerRelayCycle: 4,
  /** Transactions that write, relays excluded: POST, reserve, confirm, allocate, dispatch, DELIVERED, release. */
  writeTransactions: 7,
  /** Events produced and consumed once each (the bench's own reads not counted). */
  kafkaHops: 4,
  /** SET NX PX on allocation, compare-and-delete on release. */
  redisCommands: 2,
  /** POST /orders, PATCH /dispatch-locations/…/release, PATCH /orders/:id. */
  httpRequests: 3,
  /** Transactions on the way to DISPATCHED: POST, reserve, confirm, allocate. */
  criticalPathTransactions: 4,
  /** order.created, order.inventory.updated, order.confirmed, order.dispatched (to the bench). */
  criticalPathHops: 4,
} as const;

export interface ImpliedLimits {
  statementsPerOrder: number;
  relayCyclesPerOrder: number;
  /** orders/s each resource alone would allow, using all the machine. */
  byResource: { mariadb: number; kafka: number; redis: number; http: number };
  /** The tightest of those. */
  bottleneck: { resource: string; ordersPerSecond: number };
  /**
   * Each limit was measured saturating the same 2 cores, so on one machine the costs add up:
   * 1 / Σ(cost_r / rate_r) orders/s.
   */
  sharedMachine: number;
  /** POST→DISPATCHED floor at low load: HTTP round trip + critical transactions + Kafka hops, each at its p50. */
  latencyFloorP50Ms: number;
}

/**
 * `relayCyclesPerOrder`: measured (distinct published_at of the run's events). `measuredStatements`:
 * MariaDB's `Questions` per order over the run; with batching the statements per order fall as
 * the load rises, so the measured figure is used when there is one (the table above is the
 * one-order-at-a-time count).
 */
export function impliedLimits(
  l: Limits,
  relayCyclesPerOrder = 4,
  measuredStatements?: number,
  httpRequests: number = COST_PER_ORDER.httpRequests,
): ImpliedLimits {
  const c = COST_PER_ORDER;
  const own = Object.values(c.statements).reduce((s, n) => s + n, 0);
  const statementsPerOrder =
    measuredStatements && measuredStatements > 0
      ? measuredStatements
      : own + c.statementsPerRelayCycle * relayCyclesPerOrder;
  const byResource = {
    mariadb: l.mariadb.concurrentAutocommit.perSecond / statementsPerOrder,
    kafka: l.kafka.endToEndPerSecond / c.kafkaHops,
    redis: l.redis.setNxConcurrent.perSecond / c.redisCommands,
    http: l.http.healthzConcurrent.perSecond / httpRequests,
  };
  const [resource, ordersPerSecond] = Object.entries(byResource).sort((a, b) => a[1] - b[1])[0]!;
  const sharedMachine = 1 / Object.values(byResource).reduce((s, r) => s + 1 / r, 0);
  const latencyFloorP50Ms =
    l.http.healthzSerial.latencyMs.p50 +
    c.criticalPathTransactions * l.mariadb.serialTx.latencyMs.p50 +
    c.criticalPathHops * l.kafka.roundTrip.p50;
  const round = (x: number) => Math.round(x);
  return {
    statementsPerOrder: Math.round(statementsPerOrder * 10) / 10,
    relayCyclesPerOrder: Math.round(relayCyclesPerOrder * 100) / 100,
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
