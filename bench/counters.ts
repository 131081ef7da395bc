import type { Db } from '@delivery/common';
import { SERVICES } from './system.js';

/**
 * Counters read before and after the pipeline phase, so what an order needs of each shared
 * resource is measured in the run rather than counted from the code: MariaDB's global status
 * (statements, commits, fsyncs; anyone else's load included) and the services' own Prometheus
 * counters (HTTP requests served, events published).
 */
export interface Counters {
  mariadb: Record<string, number>;
  /** Requests the three services answered, health checks and scrapes excluded; undefined if unreadable. */
  httpRequests: number | undefined;
  /** Events the three services' relays published; undefined if unreadable. */
  eventsPublished: number | undefined;
}

const MARIADB_STATUS = [
  'Com_commit',
  'Com_insert',
  'Com_update',
  'Com_select',
  'Com_delete',
  'Questions',
  'Innodb_os_log_fsyncs',
  'Innodb_row_lock_waits',
];

async function mariadbStatus(db: Db): Promise<Record<string, number>> {
  const [rows] = (await db.raw(
    `SHOW GLOBAL STATUS WHERE Variable_name IN (${MARIADB_STATUS.map(() => '?').join(',')})`,
    MARIADB_STATUS,
  )) as [{ Variable_name: string; Value: string }[]];
  return Object.fromEntries(rows.map((r) => [r.Variable_name, Number(r.Value)]));
}

/** Sum of a Prometheus counter's samples whose labels pass `keep`. */
function sumSamples(text: string, metric: string, keep: (labels: string) => boolean): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m?.[1] === metric && keep(m[2] ?? '')) sum += Number(m[3]);
  }
  return sum;
}

const OWN_ROUTES = /route="\/(metrics|healthz|readyz)"/;

async function serviceCounters(): Promise<Pick<Counters, 'httpRequests' | 'eventsPublished'>> {
  try {
    const texts = await Promise.all(
      Object.values(SERVICES).map(async (url) => {
        const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
        if (!res.ok) throw new Error(`${url}/metrics answered ${res.status}`);
        return res.text();
      }),
    );
    const sum = (metric: string, keep: (labels: string) => boolean) =>
      texts.reduce((s, t) => s + sumSamples(t, metric, keep), 0);
    return {
      httpRequests: sum('http_request_duration_seconds_count', (l) => !OWN_ROUTES.test(l)),
      eventsPublished: sum('events_published_total', () => true),
    };
  } catch {
    // Services of another commit (bench/ab.sh) may not expose these: the figures are left out.
    return { httpRequests: undefined, eventsPublished: undefined };
  }
}

export async function readCounters(db: Db): Promise<Counters> {
  const [mariadb, services] = await Promise.all([mariadbStatus(db), serviceCounters()]);
  return { mariadb, ...services };
}

export interface PerOrder {
  /** MariaDB `Questions` per order: with batching it depends on the load, so it is measured. */
  statements: number;
  httpRequests: number | undefined;
  kafkaMessages: number | undefined;
  mariadbStatus: Record<string, number>;
}

export function perOrder(before: Counters, after: Counters, orders: number): PerOrder {
  const n = Math.max(1, orders);
  const per = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : Math.round(((b - a) / n) * 100) / 100;
  const mariadbStatus = Object.fromEntries(
    Object.keys(after.mariadb).map((k) => [k, per(before.mariadb[k] ?? 0, after.mariadb[k])!]),
  );
  return {
    statements: mariadbStatus.Questions ?? 0,
    httpRequests: per(before.httpRequests, after.httpRequests),
    kafkaMessages: per(before.eventsPublished, after.eventsPublished),
    mariadbStatus,
  };
}
