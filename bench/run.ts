/**
 * `make bench`: drives the running system (or starts one with `make up`) with N orders, measures
 * latency from the services' own events and this machine's limits in the same run, checks the
 * final state, and writes JSON and markdown to bench/results/. See docs/performance.md.
 */
import { randomBytes } from 'node:crypto';
import { createDb, internalAuthHeaders, type EventType } from '@delivery/common';
import { createClient, type RedisClientType } from 'redis';
import { parseBenchArgs } from './args.js';
import { measureCityCost, type CityPhaseDeps } from './big-city.js';
import { impliedLimits } from './cost-model.js';
import { cpuMeter } from './cpu.js';
import { createEventTap, type OrderEvents } from './events.js';
import { measureLimits } from './limits.js';
import type { OrderSpec } from './load.js';
import { pipelineFigures, runPipeline } from './pipeline.js';
import { createReleaser } from './releaser.js';
import { machineFacts, toMarkdown, writeResult, type BenchResult } from './report.js';
import { stageBreakdown } from './stages.js';
import { summarize } from './stats.js';
import {
  DATABASES,
  JsonClient,
  MYSQL_URL,
  REDIS_URL,
  SERVICES,
  createFixture,
  ensureSystemUp,
} from './system.js';
import { verify, type Dbs } from './verify.js';

const log = (s: string) => console.error(`[bench] ${s}`);

async function mariadbStatus(db: Dbs['orders']): Promise<Record<string, number>> {
  const names = [
    'Com_commit',
    'Com_insert',
    'Com_update',
    'Com_select',
    'Com_delete',
    'Questions',
    'Innodb_os_log_fsyncs',
    'Innodb_row_lock_waits',
  ];
  const [rows] = (await db.raw(
    `SHOW GLOBAL STATUS WHERE Variable_name IN (${names.map(() => '?').join(',')})`,
    names,
  )) as [{ Variable_name: string; Value: string }[]];
  return Object.fromEntries(rows.map((r) => [r.Variable_name, Number(r.Value)]));
}

async function main(): Promise<void> {
  const opts = parseBenchArgs(process.argv.slice(2), process.env);
  const run = randomBytes(3).toString('hex');
  const startedAt = new Date().toISOString();
  log(
    `run ${run}: ${opts.orders} orders, rate ${opts.rate || 'max'}, ${opts.cities} cities × ${opts.vehiclesPerCity} vehicles, hold ${opts.holdMs} ms`,
  );
  await ensureSystemUp(log);

  const auth = internalAuthHeaders(opts.internalToken);
  const order = new JsonClient(SERVICES.order, opts.concurrency, auth);
  const inventory = new JsonClient(SERVICES.inventory, 4, auth);
  const dispatcher = new JsonClient(SERVICES.dispatcher, 32, auth);
  const dbs: Dbs = {
    orders: createDb({ url: MYSQL_URL, database: DATABASES.order, poolMax: 4 }),
    inventory: createDb({ url: MYSQL_URL, database: DATABASES.inventory, poolMax: 2 }),
    dispatch: createDb({ url: MYSQL_URL, database: DATABASES.dispatcher, poolMax: 2 }),
  };
  const redis = createClient({ url: REDIS_URL }) as RedisClientType;
  await redis.connect();
  const machine = await machineFacts(dbs.orders, redis);

  let limits;
  if (opts.limits) {
    log('measuring MariaDB, Kafka, Redis and HTTP limits');
    limits = await measureLimits(run, { concurrency: opts.concurrency });
  }

  const bigCityOrders = opts.bigCityVehicles > 0 ? opts.bigCityVehicles - 1 + 2 * opts.bigCityOrders : 0;
  const stock = opts.stockPerProduct ?? Math.ceil(opts.orders / opts.products) + bigCityOrders;
  log('registering bench products, cities and vehicles');
  const fixture = await createFixture({ inventory, dispatcher }, run, {
    cities: opts.cities,
    vehiclesPerCity: opts.vehiclesPerCity,
    products: opts.products,
    stockPerProduct: stock,
  });

  const waiters = new Map<number, (e: OrderEvents) => void>();
  const releaser = createReleaser(dispatcher, opts.holdMs, (v) => fixture.vehicles.has(v));
  const tap = createEventTap(run, (orderId: number, type: EventType, e: OrderEvents) => {
    if (type !== 'order.dispatched' || !e.dispatched) return;
    releaser.onDispatched(orderId, e.dispatched.vehicleNumber);
    waiters.get(orderId)?.(e);
  });
  await tap.start();

  const specs: OrderSpec[] = Array.from({ length: opts.orders }, (_, i) => ({
    customerId: i + 1,
    city: fixture.cities[i % fixture.cities.length]!,
    items: [{ productId: fixture.products[i % fixture.products.length]!.id, price: 9.99, quantity: 1 }],
  }));
  log(`placing ${opts.orders} orders`);
  const status0 = await mariadbStatus(dbs.orders);
  const cpu = cpuMeter();
  const pipeline = await runPipeline(order, tap, specs, { ...opts, log });
  await releaser.drain();
  const cpuWindow = cpu.stop();
  const status1 = await mariadbStatus(dbs.orders);
  if (pipeline.timedOut) log(`gave up waiting after ${opts.drainTimeoutS} s: some outcomes are missing`);
  await tap.readWritten(
    dbs.orders,
    pipeline.accepted.map((r) => r.orderId!),
  );
  const figures = pipelineFigures(pipeline, tap);
  const accepted = pipeline.accepted.length;

  const placedElsewhere: number[] = [];
  let cityCost;
  const extraVehicles: string[] = [];
  const extraCities: string[] = [];
  if (opts.bigCityVehicles > 0) {
    log(
      `Redis cost of an allocation: a city of 1 vehicle, then one of ${opts.bigCityVehicles} with all but one busy`,
    );
    const deps: CityPhaseDeps = {
      run,
      order,
      dispatcher,
      db: dbs.dispatch,
      productId: fixture.products[0]!.id,
      placed: placedElsewhere,
      waitDispatched: (orderId) =>
        new Promise((resolve) => {
          const done = (e: OrderEvents) => {
            waiters.delete(orderId);
            resolve({ vehicleNumber: e.dispatched!.vehicleNumber, receivedAt: e.dispatched!.receivedAt });
          };
          const seen = tap.byOrder.get(orderId);
          if (seen?.dispatched) done(seen);
          else waiters.set(orderId, done);
        }),
    };
    const control = await measureCityCost(deps, 'one', 1, opts.bigCityOrders);
    const crowded = await measureCityCost(deps, 'big', opts.bigCityVehicles, opts.bigCityOrders);
    extraVehicles.push(...control.vehicleNumbers, ...crowded.vehicleNumbers);
    extraCities.push(control.city, crowded.city);
    const strip = ({ vehicleNumbers: _v, ...rest }: typeof control) => rest;
    cityCost = { control: strip(control), crowded: strip(crowded) };
  }

  log('checking the final state');
  const orderIds = [...pipeline.accepted.map((r) => r.orderId!), ...placedElsewhere];
  const productIds = specs.map((s) => s.items[0]!.productId);
  const verification = await verify(dbs, redis, {
    orderIds,
    cities: [...fixture.cities, ...extraCities],
    vehicles: [...fixture.vehicles.keys(), ...extraVehicles],
    products: fixture.products.map((p, i) => ({
      id: p.id,
      stock: p.stock,
      ordered: productIds.filter((id) => id === p.id).length + (i === 0 ? placedElsewhere.length : 0),
    })),
    releasing: opts.holdMs >= 0,
    settleMs: 30_000,
  });
  const breakdown = await stageBreakdown(
    dbs,
    pipeline.accepted.map((r) => ({
      orderId: r.orderId!,
      sentAt: r.sentAt,
      respondedAt: r.doneAt,
      events: tap.byOrder.get(r.orderId!)!,
    })),
  );

  // Batching makes statements per order depend on load: the run's own count is the figure to use.
  const questionsPerOrder = ((status1.Questions ?? 0) - (status0.Questions ?? 0)) / Math.max(1, accepted);
  // Without releases an order makes one HTTP request (its POST) instead of three.
  const implied =
    limits &&
    impliedLimits(limits, breakdown.relayCyclesPerOrder, questionsPerOrder, opts.holdMs >= 0 ? 3 : 1);
  const cpuMsPerOrder = Object.fromEntries(
    Object.entries(cpuWindow.perProcess).map(([k, s]) => [
      k,
      Math.round((s / Math.max(1, accepted)) * 1_000 * 100) / 100,
    ]),
  );
  const cpuMsTotal = Object.values(cpuMsPerOrder).reduce((a, b) => a + b, 0);
  const cores = machine.cores;
  // What the measured CPU cost per order allows: all cores, and the cores other work left us.
  const cpuBound = {
    cpuMsPerOrder: Math.round(cpuMsTotal * 100) / 100,
    allCores: Math.round((cores * 1_000) / cpuMsTotal),
    leftByOthers: Math.round(((cores - cpuWindow.otherCpuSeconds / cpuWindow.seconds) * 1_000) / cpuMsTotal),
  };
  const sustained = figures.throughput.endToEndPerSecond;
  const result: BenchResult = {
    run,
    startedAt,
    label: opts.label,
    options: opts,
    machine,
    pipeline: {
      orders: opts.orders,
      accepted,
      ...figures,
      releases: { ...releaser.stats, latencyMs: summarize(releaser.stats.latencyMs) },
      cpu: { ...cpuWindow, cpuMsPerOrder, bound: cpuBound },
      mariadbStatusPerOrder: Object.fromEntries(
        Object.keys(status1).map((k) => [
          k,
          Math.round(((status1[k]! - (status0[k] ?? 0)) / Math.max(1, accepted)) * 10) / 10,
        ]),
      ),
    },
    stages: breakdown.stages,
    limits,
    implied,
    ratios: implied && {
      throughputToBottleneck: Math.round((sustained / implied.bottleneck.ordersPerSecond) * 1000) / 1000,
      throughputToSharedMachine: Math.round((sustained / implied.sharedMachine) * 1000) / 1000,
      throughputToCpuBound: Math.round((sustained / cpuBound.leftByOthers) * 1000) / 1000,
      p50ToFloor:
        Math.round((figures.latencyMs.postToDispatched.p50 / implied.latencyFloorP50Ms) * 100) / 100,
    },
    cityCost,
    verification,
  };

  await tap.stop();
  await Promise.all([order.close(), inventory.close(), dispatcher.close()]);
  await Promise.all(Object.values(dbs).map((db) => db.destroy()));
  await redis.close();

  console.log(toMarkdown(result));
  if (opts.save) {
    const files = writeResult(result, opts.outDir);
    log(`wrote ${files.json} and ${files.md}`);
  }
  if (!verification.ok) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
