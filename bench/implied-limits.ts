import type { PerOrder } from './counters.js';
import type { Limits } from './limits.js';

/**
 * What the machine's measured limits allow, given what an order needed of each resource in the
 * same run. Statements, HTTP requests and Kafka messages per order are measured (counters.ts);
 * when the services do not expose their counters, the counts of the current code stand in.
 */
export const COUNTED = {
  /**
   * Events an order publishes, each consumed once by a service: order.created,
   * order.inventory.updated, order.confirmed, order.dispatched, and with a release order.delivered.
   */
  kafkaMessages: (releasing: boolean) => (releasing ? 5 : 4),
  /**
   * POST /orders; with a release also its PATCH and its share of one POST /orders/deliveries
   * (order-service gets concurrent releases' deliveries in one request): at most 3.
   */
  httpRequests: (releasing: boolean) => (releasing ? 3 : 1),
  /** SET NX PX GET per allocation; with a release the compare-and-delete EVAL. Never binding. */
  redisCommands: (releasing: boolean) => (releasing ? 2 : 1),
  /** On the way to DISPATCHED: POST, reserve, confirm, allocate; and as many Kafka hops (the last to the bench). */
  criticalPathTransactions: 4,
  criticalPathHops: 4,
};

export interface ImpliedLimits {
  perOrder: { statements: number; kafkaMessages: number; httpRequests: number; redisCommands: number };
  /** orders/s each resource alone would allow, using all the machine. */
  byResource: { mariadb: number; kafka: number; redis: number; http: number };
  /** The tightest of those. */
  bottleneck: { resource: string; ordersPerSecond: number };
  /** Each limit was measured saturating the same cores, so on one machine the costs add up: 1 / Σ(cost_r / rate_r). */
  sharedMachine: number;
  /** POST→DISPATCHED floor at low load: HTTP round trip + critical transactions + Kafka hops, each at its p50. */
  latencyFloorP50Ms: number;
}

export function impliedLimits(l: Limits, measured: PerOrder | undefined, releasing: boolean): ImpliedLimits {
  const c = COUNTED;
  const perOrder = {
    statements: measured?.statements || 1,
    kafkaMessages: measured?.kafkaMessages || c.kafkaMessages(releasing),
    httpRequests: measured?.httpRequests || c.httpRequests(releasing),
    redisCommands: c.redisCommands(releasing),
  };
  const byResource = {
    mariadb: l.mariadb.concurrentAutocommit.perSecond / perOrder.statements,
    kafka: l.kafka.endToEndPerSecond / perOrder.kafkaMessages,
    redis: l.redis.setNxConcurrent.perSecond / perOrder.redisCommands,
    http: l.http.healthzConcurrent.perSecond / perOrder.httpRequests,
  };
  const [resource, ordersPerSecond] = Object.entries(byResource).sort((a, b) => a[1] - b[1])[0]!;
  const sharedMachine = 1 / Object.values(byResource).reduce((s, r) => s + 1 / r, 0);
  const latencyFloorP50Ms =
    l.http.healthzSerial.latencyMs.p50 +
    c.criticalPathTransactions * l.mariadb.serialTx.latencyMs.p50 +
    c.criticalPathHops * l.kafka.roundTrip.p50;
  const round = Math.round;
  return {
    perOrder,
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
