import { randomBytes } from 'node:crypto';
import type { EventType } from '@delivery/common';
import type { BenchOptions } from './args.js';
import { crowdedCityPhase, type CityPhaseDeps } from './big-city.js';
import { perOrder, readCounters } from './counters.js';
import { cpuMeter, cpuPerOrder } from './cpu.js';
import { createEventTap, type EventTap, type OrderEvents } from './events.js';
import { impliedLimits } from './implied-limits.js';
import { measureLimits } from './limits.js';
import type { OrderSpec } from './load.js';
import { pipelineFigures, runPipeline, type PipelineRun } from './pipeline.js';
import { createReleaser } from './releaser.js';
import { benchCommand, machineFacts, type BenchResult, type PipelineResult } from './report.js';
import { stageBreakdown, type Breakdown } from './stages.js';
import { summarize } from './stats.js';
import { connect, createFixture, ensureSystemUp, type Connections, type Fixture } from './system.js';
import { verify, type Dbs } from './verify.js';

type Log = (s: string) => void;

interface Session extends Connections {
  run: string;
  opts: BenchOptions;
  log: Log;
  fixture: Fixture;
  tap: EventTap;
  releaser: ReturnType<typeof createReleaser>;
}

/**
 * One bench run against the running system: this machine's limits (unless --no-limits), the
 * pipeline phase (N orders, open or closed loop, each vehicle released after --hold-ms), the
 * crowded-city phase (unless --big-city 0), then the final-state check. Everything the run
 * registers is named after its run id, so runs never meet.
 */
export async function measureRun(opts: BenchOptions, log: Log): Promise<BenchResult> {
  const run = randomBytes(3).toString('hex');
  const startedAt = new Date().toISOString();
  log(
    `run ${run}: ${opts.orders} orders, rate ${opts.rate || 'max'}, ${opts.cities} cities × ${opts.vehiclesPerCity} vehicles, hold ${opts.holdMs} ms`,
  );
  await ensureSystemUp(log);
  const conn = await connect(opts);
  try {
    const machine = await machineFacts(conn.dbs.orders, conn.redis);
    let limits;
    if (opts.limits) {
      log('measuring MariaDB, Kafka, Redis and HTTP limits');
      limits = await measureLimits(run, { concurrency: opts.concurrency });
    }
    const session = await prepare(conn, run, opts, log);
    try {
      const phase = opts.orders > 0 ? await pipelinePhase(session) : undefined;
      const city = opts.bigCityVehicles > 0 ? await cityPhase(session) : undefined;
      log('checking the final state');
      const verification = await checkFinalState(session, phase?.specs ?? [], phase?.run, city);
      const pipeline = phase && { ...phase.figures, orders: opts.orders };
      return {
        run,
        startedAt,
        label: opts.label,
        command: benchCommand(opts),
        options: { ...opts, internalToken: opts.internalToken && '(set)' },
        machine,
        pipeline,
        stages: phase ? (await stagesOf(conn.dbs, phase.run, session.tap)).stages : [],
        limits,
        ...derived(pipeline, limits, opts.holdMs >= 0),
        cityCost: city?.cost,
        verification,
      };
    } finally {
      await session.tap.stop();
    }
  } finally {
    await conn.close();
  }
}

/** The run's products, cities and vehicles; the releaser; the event tap, started. */
async function prepare(conn: Connections, run: string, opts: BenchOptions, log: Log): Promise<Session> {
  const cityOrders = opts.bigCityVehicles > 0 ? opts.bigCityVehicles - 1 + 2 * opts.bigCityOrders : 0;
  log('registering bench products, cities and vehicles');
  const fixture = await createFixture(conn, run, {
    cities: opts.orders > 0 ? opts.cities : 0,
    vehiclesPerCity: opts.vehiclesPerCity,
    products: opts.products,
    stockPerProduct: opts.stockPerProduct ?? Math.ceil(opts.orders / opts.products) + cityOrders,
  });
  const releaser = createReleaser(conn.dispatcher, opts.holdMs, (v) => fixture.vehicles.has(v));
  const tap = createEventTap(run, (orderId: number, type: EventType, e: OrderEvents) => {
    if (type === 'order.dispatched' && e.dispatched)
      releaser.onDispatched(orderId, e.dispatched.vehicleNumber);
  });
  await tap.start();
  return { ...conn, run, opts, log, fixture, tap, releaser };
}

type CityRun = Awaited<ReturnType<typeof crowdedCityPhase>> & { placed: number[] };

async function cityPhase(s: Session): Promise<CityRun> {
  s.log(
    `Redis cost of an allocation: a city of 1 vehicle, then one of ${s.opts.bigCityVehicles} with all but one busy`,
  );
  const placed: number[] = [];
  const deps: CityPhaseDeps = {
    run: s.run,
    order: s.order,
    dispatcher: s.dispatcher,
    db: s.dbs.dispatch,
    productId: s.fixture.products[0]!.id,
    placed,
    waitDispatched: (orderId) => s.tap.waitDispatched(orderId),
  };
  return { ...(await crowdedCityPhase(deps, s.opts.bigCityVehicles, s.opts.bigCityOrders)), placed };
}

function checkFinalState(s: Session, specs: OrderSpec[], run: PipelineRun | undefined, city?: CityRun) {
  const placed = city?.placed ?? [];
  return verify(s.dbs, s.redis, {
    orderIds: [...(run?.accepted.map((r) => r.orderId!) ?? []), ...placed],
    cities: [...s.fixture.cities, ...(city?.cities ?? [])],
    vehicles: [...s.fixture.vehicles.keys(), ...(city?.vehicleNumbers ?? [])],
    // The crowded-city phase orders the first product.
    products: s.fixture.products.map((p, i) => ({
      id: p.id,
      stock: p.stock,
      ordered: specs.filter((x) => x.items[0]!.productId === p.id).length + (i === 0 ? placed.length : 0),
    })),
    releasing: s.opts.holdMs >= 0,
    settleMs: 30_000,
  });
}

/** Places the orders and waits for their outcomes and releases; counters and CPU around exactly that. */
async function pipelinePhase({ opts, log, order, dbs, tap, releaser, fixture }: Session) {
  const specs: OrderSpec[] = Array.from({ length: opts.orders }, (_, i) => ({
    customerId: i + 1,
    city: fixture.cities[i % fixture.cities.length]!,
    items: [{ productId: fixture.products[i % fixture.products.length]!.id, price: 9.99, quantity: 1 }],
  }));
  log(`placing ${opts.orders} orders`);
  const before = await readCounters(dbs.orders);
  const cpu = cpuMeter();
  const run = await runPipeline(order, tap, specs, { ...opts, log });
  await releaser.drain();
  const cpuWindow = cpu.stop();
  const after = await readCounters(dbs.orders);
  if (run.timedOut) log(`gave up waiting after ${opts.drainTimeoutS} s: some outcomes are missing`);
  await tap.readWritten(
    dbs.orders,
    run.accepted.map((r) => r.orderId!),
  );
  const accepted = run.accepted.length;
  const figures: Omit<PipelineResult, 'orders'> = {
    accepted,
    ...pipelineFigures(run, tap),
    releases: { ...releaser.stats, latencyMs: summarize(releaser.stats.latencyMs) },
    cpu: { ...cpuWindow, perOrder: cpuPerOrder(cpuWindow, accepted) },
    perOrder: perOrder(before, after, accepted),
  };
  return { specs, run, figures };
}

function stagesOf(dbs: Dbs, run: PipelineRun, tap: EventTap): Promise<Breakdown> {
  return stageBreakdown(
    dbs,
    run.accepted.map((r) => ({
      orderId: r.orderId!,
      sentAt: r.sentAt,
      respondedAt: r.doneAt,
      events: tap.byOrder.get(r.orderId!)!,
    })),
  );
}

/** Ratios of what the run sustained to what its CPU cost and the measured limits allow. */
function derived(
  p: PipelineResult | undefined,
  limits: BenchResult['limits'],
  releasing: boolean,
): Pick<BenchResult, 'implied' | 'ratios'> {
  if (!p) return {};
  const sustained = p.throughput.endToEndPerSecond;
  const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;
  const implied = limits && impliedLimits(limits, p.perOrder, releasing);
  return {
    implied,
    ratios: {
      throughputToCpuBound: ratio(sustained, p.cpu.perOrder.leftByOthers),
      ...(implied && {
        throughputToBottleneck: ratio(sustained, implied.bottleneck.ordersPerSecond),
        throughputToSharedMachine: ratio(sustained, implied.sharedMachine),
        p50ToFloor: ratio(p.latencyMs.postToDispatched.p50, implied.latencyFloorP50Ms),
      }),
    },
  };
}
