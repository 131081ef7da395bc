/**
 * Group commit for request handlers: calls that arrive while a batch is being written wait and
 * are written together in the next one. An idle system writes each call alone at once (no
 * timer, no added latency); a busy one writes one transaction for many calls.
 *
 * `write` gets the items in arrival order and returns one result per item, in the same order.
 * When a batch of several fails, each of its items is written again alone, so one bad item
 * fails only its own caller — unless `retryAlone(err)` says the failure is not the items'
 * (the database is down: every caller gets the error at once, none waits for a second try).
 */
export function coalesce<I, O>(
  write: (items: I[]) => Promise<O[]>,
  {
    maxBatch = 100,
    concurrency = 2,
    retryAlone = () => true,
  }: { maxBatch?: number; concurrency?: number; retryAlone?: (err: unknown) => boolean } = {},
): (item: I) => Promise<O> {
  interface Waiting {
    item: I;
    resolve(value: O): void;
    reject(err: unknown): void;
  }
  let queue: Waiting[] = [];
  let running = 0;

  async function writeAlone(w: Waiting): Promise<void> {
    try {
      const [result] = await write([w.item]);
      w.resolve(result as O);
    } catch (err) {
      w.reject(err);
    }
  }

  async function flush(batch: Waiting[]): Promise<void> {
    try {
      const results = await write(batch.map((w) => w.item));
      if (results.length !== batch.length)
        throw new Error(`coalesce: ${results.length} results for ${batch.length} items`);
      batch.forEach((w, i) => w.resolve(results[i] as O));
    } catch (err) {
      if (batch.length === 1 || !retryAlone(err)) for (const w of batch) w.reject(err);
      else await Promise.all(batch.map(writeAlone));
    }
  }

  function pump(): void {
    while (running < concurrency && queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      running += 1;
      void flush(batch).finally(() => {
        running -= 1;
        pump();
      });
    }
  }

  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      pump();
    });
}
