import { parseArgs } from 'node:util';

/**
 * Bench settings: flags first, then BENCH_* environment variables, then defaults.
 *   npx tsx bench/run.ts --orders 5000 --rate 500 --cities 10 --vehicles 50 --hold-ms 200
 */
export interface BenchOptions {
  /** Orders of the pipeline phase; 0 skips it (limits and the crowded city only). */
  orders: number;
  /** Offered load in orders/s (open loop); 0 = as fast as it goes (closed loop of `concurrency`). */
  rate: number;
  /** In-flight POSTs in closed-loop mode, and HTTP connections in both modes. */
  concurrency: number;
  cities: number;
  vehiclesPerCity: number;
  /** How long a vehicle carries its order before the bench releases it; < 0 never releases. */
  holdMs: number;
  products: number;
  /** Stock of each bench product; by default enough for every order. */
  stockPerProduct: number | undefined;
  /** Hard stop for the pipeline phase, after the last POST. */
  drainTimeoutS: number;
  limits: boolean;
  /** Vehicles in the crowded city of the Redis-cost phase; 0 skips that phase. */
  bigCityVehicles: number;
  /** Allocations measured in the crowded city, once all but one vehicle are busy. */
  bigCityOrders: number;
  label: string;
  /** Free text kept in the results, e.g. which code the services ran. */
  note: string | undefined;
  /** INTERNAL_TOKEN of the running system, sent on the release calls when set. */
  internalToken: string | undefined;
}

/** One run, or a sweep: the same settings at several rates, one after the other. */
export interface BenchPlan {
  runs: BenchOptions[];
  sweep: boolean;
  /** Open-loop runs place rate × seconds orders (0: --orders). */
  seconds: number;
  /** Label of the sweep's own files. */
  label: string;
  outDir: string;
  /** Fixed file name (bench/results/<name>.json, …) instead of <timestamp>-<label>. */
  name: string | undefined;
  save: boolean;
}

export const RAW_DIR = 'bench/results/raw';

const HELP = `usage: npx tsx bench/run.ts [options]   (or: make bench ARGS="...")
  --orders N            orders to place (default 5000, env BENCH_ORDERS); 0 skips the pipeline
  --rate R              open-loop target in orders/s; 0 or "max" = as fast as it goes (default max)
  --rate R1,R2,...      a sweep: one run per rate (e.g. 10,20,40,100,max), then one table and one
                        chart of p50/p99 and CPU per order against the rate (no limits, no crowded city)
  --seconds S           open-loop runs place rate × S orders (in a sweep: default 30; max uses --orders)
  --concurrency K       in-flight POSTs when --rate max, HTTP connections always (default 64)
  --cities C            bench cities (default 10)
  --vehicles V          vehicles per city (default 50)
  --hold-ms H           a vehicle is released H ms after order.dispatched (default 200)
  --no-release          never release: size the fleet for every order (cities × vehicles)
  --products P          bench products, one item each order, round robin (default 4)
  --stock S             stock per product (default: enough for every order)
  --drain-timeout-s T   give up waiting for outcomes T s after the last POST (default 120)
  --no-limits           skip the MariaDB/Kafka/Redis/HTTP limit measurements
  --big-city V          vehicles of the crowded city for the Redis cost phase; 0 skips (default 1000)
  --big-city-orders M   allocations measured there (default 200)
  --label NAME          name in the result files (default: rate-<R>, or sweep)
  --out DIR             results directory (default ${RAW_DIR}, not committed)
  --name NAME           write <out>/<NAME>.json, .md and .svg instead of <timestamp>-<label>.*
  --no-save             print only, write no result files
  --note TEXT           kept in the results (e.g. which code the services ran)
env INTERNAL_TOKEN      sent as a bearer token when the system runs with one (releases need it)`;

function int(name: string, raw: string | undefined, fallback: number, min = 0): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${raw}`);
  return n;
}

const rateOf = (raw: string) => (raw === 'max' ? 0 : int('rate', raw, 0));
const rateName = (rate: number) => (rate === 0 ? 'rate-max' : `rate-${rate}`);

export function parseBenchArgs(argv: string[], env: NodeJS.ProcessEnv): BenchPlan {
  const { values } = parseArgs({
    args: argv,
    options: {
      orders: { type: 'string' },
      rate: { type: 'string' },
      seconds: { type: 'string' },
      concurrency: { type: 'string' },
      cities: { type: 'string' },
      vehicles: { type: 'string' },
      'hold-ms': { type: 'string' },
      products: { type: 'string' },
      stock: { type: 'string' },
      'drain-timeout-s': { type: 'string' },
      'no-limits': { type: 'boolean' },
      'no-release': { type: 'boolean' },
      'big-city': { type: 'string' },
      'big-city-orders': { type: 'string' },
      label: { type: 'string' },
      out: { type: 'string' },
      name: { type: 'string' },
      'no-save': { type: 'boolean' },
      note: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const rates = (values.rate ?? env.BENCH_RATE ?? 'max').split(',').map((r) => rateOf(r.trim()));
  const sweep = rates.length > 1;
  const seconds = int('seconds', values.seconds, sweep ? 30 : 0);
  const orders = int('orders', values.orders ?? env.BENCH_ORDERS, 5_000);
  const stock = values.stock ?? env.BENCH_STOCK;
  const base: Omit<BenchOptions, 'orders' | 'rate' | 'label'> = {
    concurrency: int('concurrency', values.concurrency ?? env.BENCH_CONCURRENCY, 64, 1),
    cities: int('cities', values.cities ?? env.BENCH_CITIES, 10, 1),
    vehiclesPerCity: int('vehicles', values.vehicles ?? env.BENCH_VEHICLES, 50, 1),
    holdMs:
      values['no-release'] || values['hold-ms'] === '-1'
        ? -1
        : int('hold-ms', values['hold-ms'] ?? env.BENCH_HOLD_MS, 200),
    products: int('products', values.products ?? env.BENCH_PRODUCTS, 4, 1),
    stockPerProduct: stock === undefined ? undefined : int('stock', stock, 0),
    drainTimeoutS: int('drain-timeout-s', values['drain-timeout-s'], 120, 1),
    limits: !sweep && !(values['no-limits'] ?? env.BENCH_NO_LIMITS === '1'),
    bigCityVehicles: sweep ? 0 : int('big-city', values['big-city'] ?? env.BENCH_BIG_CITY, 1_000),
    bigCityOrders: int('big-city-orders', values['big-city-orders'], 200, 1),
    note: values.note,
    internalToken: env.INTERNAL_TOKEN || undefined,
  };
  const label = values.label ?? env.BENCH_LABEL;
  return {
    runs: rates.map((rate) => ({
      ...base,
      rate,
      orders: rate > 0 && seconds > 0 ? rate * seconds : orders,
      label: sweep ? `${label ?? 'sweep'}-${rateName(rate)}` : (label ?? rateName(rate)),
    })),
    sweep,
    seconds,
    label: label ?? (sweep ? 'sweep' : rateName(rates[0]!)),
    outDir: values.out ?? RAW_DIR,
    name: values.name,
    save: !values['no-save'],
  };
}
