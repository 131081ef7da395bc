import type { JsonClient } from './system.js';
import { nowMs, sleep } from './stats.js';

export interface OrderSpec {
  customerId: number;
  city: string;
  items: { productId: number; price: number; quantity: number }[];
}

export interface PostResult {
  index: number;
  /** When the open-loop schedule said to send (= sentAt in closed loop): latency counts from here. */
  scheduledAt: number;
  sentAt: number;
  doneAt: number;
  status: number;
  orderId?: number;
  error?: string;
}

async function post(
  client: JsonClient,
  spec: OrderSpec,
  index: number,
  scheduledAt: number,
): Promise<PostResult> {
  const sentAt = nowMs();
  try {
    const res = await client.call<{ id: number }>('POST', '/orders', spec);
    const doneAt = nowMs();
    const base = { index, scheduledAt, sentAt, doneAt, status: res.status };
    return res.status === 201
      ? { ...base, orderId: res.body.id }
      : { ...base, error: JSON.stringify(res.body).slice(0, 200) };
  } catch (err) {
    return {
      index,
      scheduledAt,
      sentAt,
      doneAt: nowMs(),
      status: 0,
      error: err instanceof Error ? err.message : String(err),
    };
  }
}

/**
 * Open loop: order i is sent at start + i/rate whatever happened to the earlier ones, so a slow
 * system meets the same offered load and its queueing shows in the latency (measured from the
 * scheduled time, free of coordinated omission). rate 0: a closed loop of `concurrency` clients.
 */
export async function drive(
  client: JsonClient,
  specs: OrderSpec[],
  { rate, concurrency, onResult }: { rate: number; concurrency: number; onResult: (r: PostResult) => void },
): Promise<PostResult[]> {
  const results: PostResult[] = new Array(specs.length);
  const keep = (r: PostResult) => {
    results[r.index] = r;
    onResult(r);
  };
  if (rate === 0) {
    let next = 0;
    const worker = async () => {
      while (next < specs.length) {
        const i = next++;
        keep(await post(client, specs[i]!, i, nowMs()));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, specs.length) }, worker));
    return results;
  }
  const interval = 1_000 / rate;
  const start = nowMs() + 50;
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < specs.length;) {
    const now = nowMs();
    // Send everything that is due (a late timer catches up at once, as an open loop must).
    while (i < specs.length && start + i * interval <= now) {
      const index = i++;
      inFlight.push(post(client, specs[index]!, index, start + index * interval).then(keep));
    }
    if (i < specs.length) await sleep(start + i * interval - nowMs());
  }
  await Promise.all(inFlight);
  return results;
}
