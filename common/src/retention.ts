import { Counter, Gauge, type Registry } from 'prom-client';
import type { CommonConfig } from './config.js';
import type { Db } from './db.js';
import type { Logger } from './logger.js';

/**
 * Rows of `table` whose `column` is older than `keepMs` may go. An index must lead with `column`,
 * so each batch is a short range scan (and locks only the rows it deletes and their gaps).
 * A NULL is never older than anything: outbox rows not yet published stay.
 */
export interface RetentionRule {
  table: string;
  column: string;
  keepMs: number;
}

/** Published outbox rows, by their publication time (index outbox_pending_idx (published_at, id)). */
export function outboxRule(config: CommonConfig): RetentionRule {
  return { table: 'outbox', column: 'published_at', keepMs: config.OUTBOX_RETENTION };
}

export interface RetentionOptions {
  /** Rows per DELETE: small enough that each statement is short. */
  batch?: number;
  /** Pause between batches, so the deletes leave room to the service's own writes. */
  pauseMs?: number;
  /** Mean time between runs; each wait is jittered ±20 % so instances drift apart. */
  intervalMs?: number;
}

/**
 * Deletes one rule's old rows, `batch` at a time, until a batch comes back short or `isStopping()`.
 * Returns how many went.
 */
export async function pruneTable(
  db: Db,
  rule: RetentionRule,
  { batch = 1_000, pauseMs = 20 }: RetentionOptions = {},
  isStopping: () => boolean = () => false,
): Promise<number> {
  let total = 0;
  while (!isStopping()) {
    const [res] = (await db.raw(
      'DELETE FROM ?? WHERE ?? < NOW(3) - INTERVAL ? MICROSECOND ORDER BY ?? LIMIT ?',
      [rule.table, rule.column, rule.keepMs * 1_000, rule.column, batch],
    )) as [{ affectedRows: number }];
    total += res.affectedRows;
    if (res.affectedRows < batch) break;
    await new Promise((r) => setTimeout(r, pauseMs));
  }
  return total;
}

export interface RetentionMetrics {
  rows: Gauge<'table'>;
  deleted: Counter<'table'>;
}

export function retentionMetrics(registry: Registry): RetentionMetrics {
  const rows =
    (registry.getSingleMetric('table_rows') as Gauge<'table'> | undefined) ??
    new Gauge({
      name: 'table_rows',
      help: "Rows per pruned table: InnoDB's estimate (information_schema TABLE_ROWS), sampled each run",
      labelNames: ['table'],
      registers: [registry],
    });
  const deleted =
    (registry.getSingleMetric('retention_deleted_rows_total') as Counter<'table'> | undefined) ??
    new Counter({
      name: 'retention_deleted_rows_total',
      help: 'Rows deleted by the retention job, by table',
      labelNames: ['table'],
      registers: [registry],
    });
  return { rows, deleted };
}

/** InnoDB's row estimate per table: free to read, unlike COUNT(*) on a large table. */
async function estimateRows(db: Db, tables: string[]): Promise<Map<string, number>> {
  const [rows] = (await db.raw(
    'SELECT TABLE_NAME AS name, TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)',
    [tables],
  )) as [{ name: string; n: number | null }[]];
  return new Map(rows.map((r) => [r.name, Number(r.n ?? 0)]));
}

export interface RetentionJob {
  start(): void;
  /** One run over every rule now (what the timer does); resolves with the rows deleted per table. */
  runOnce(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/** The retention job of a worker: every few minutes, each rule's old rows in small batches. */
export function createRetentionJob(
  deps: { db: Db; logger: Logger; registry: Registry },
  rules: RetentionRule[],
  options: RetentionOptions = {},
): RetentionJob {
  const { db } = deps;
  const log = deps.logger.child({ module: 'retention' });
  const metrics = retentionMetrics(deps.registry);
  const intervalMs = options.intervalMs ?? 5 * 60_000;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;

  async function runOnce(): Promise<Record<string, number>> {
    const removed: Record<string, number> = {};
    for (const rule of rules) {
      removed[rule.table] = await pruneTable(db, rule, options, () => stopping);
      metrics.deleted.inc({ table: rule.table }, removed[rule.table]);
    }
    for (const [table, n] of await estimateRows(
      db,
      rules.map((r) => r.table),
    ))
      metrics.rows.set({ table }, n);
    if (Object.values(removed).some((n) => n > 0)) log.info({ removed }, 'old rows deleted');
    return removed;
  }

  function schedule() {
    if (stopping) return;
    const wait = intervalMs * (0.8 + 0.4 * Math.random());
    timer = setTimeout(() => {
      running = runOnce()
        .catch((err: unknown) => log.warn({ err }, 'deleting old rows failed; next time'))
        .finally(schedule);
    }, wait);
    timer.unref();
  }

  return {
    start() {
      if (rules.length === 0 || timer) return;
      stopping = false;
      schedule();
    },
    runOnce,
    async stop() {
      stopping = true;
      clearTimeout(timer);
      await running;
      timer = undefined;
    },
  };
}
