import type { RedisClient } from '../redis.js';

/** Deletes the key only while it still holds our value: a lock taken over by another order survives. */
const COMPARE_AND_DELETE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

export interface LockState {
  vehicleKey: string;
  /** The order id the lock holds, or null when it vanished meanwhile. */
  orderId: string | null;
  /** Remaining time to live in ms; -1 when the key has none. */
  pttl: number;
}

/**
 * `vehicle-lock:{VEHICLE_KEY}` = order id, SET NX PX (DESIGN.md §6). The Redis lock is the fast
 * path; the unique index on the active assignment is the final guard.
 */
export interface VehicleLocks {
  readonly ttlMs: number;
  /** SET NX PX GET, one command; also true when the lock already holds this order (a retried allocation). */
  acquire(vehicleKey: string, orderId: number): Promise<boolean>;
  /** SET NX PX only: true when this call created the lock. */
  create(vehicleKey: string, orderId: number): Promise<boolean>;
  /** Compare-and-delete; true when the lock was ours and is gone. */
  release(vehicleKey: string, orderId: number | string): Promise<boolean>;
  /** Every lock under this instance's prefix, in SCAN batches. */
  scan(): AsyncGenerator<LockState[]>;
}

export function createVehicleLocks(
  redis: RedisClient,
  { prefix, ttlMs }: { prefix: string; ttlMs: number },
): VehicleLocks {
  const namespace = `${prefix}vehicle-lock:`;
  const keyOf = (vehicleKey: string) => `${namespace}${vehicleKey}`;

  async function create(vehicleKey: string, orderId: number): Promise<boolean> {
    const reply = await redis.set(keyOf(vehicleKey), String(orderId), {
      condition: 'NX',
      expiration: { type: 'PX', value: ttlMs },
    });
    return reply === 'OK';
  }

  async function inspect(keys: string[]): Promise<LockState[]> {
    // Issued in the same tick: node-redis pipelines them in one round trip.
    const [values, ttls] = await Promise.all([redis.mGet(keys), Promise.all(keys.map((k) => redis.pTTL(k)))]);
    return keys.map((key, i) => ({
      vehicleKey: key.slice(namespace.length),
      orderId: values[i] ?? null,
      pttl: Number(ttls[i] ?? -2),
    }));
  }

  return {
    ttlMs,
    create,
    async acquire(vehicleKey, orderId) {
      // One command (Redis 7: SET NX with GET): nil when it set the lock, else the holder. Only an
      // allocation of this very order writes its id before the assignment commits: an attempt
      // that failed after taking the lock may take it again.
      const holder = await redis.set(keyOf(vehicleKey), String(orderId), {
        condition: 'NX',
        expiration: { type: 'PX', value: ttlMs },
        GET: true,
      });
      return holder === null || holder === String(orderId);
    },
    async release(vehicleKey, orderId) {
      const deleted = await redis.eval(COMPARE_AND_DELETE, {
        keys: [keyOf(vehicleKey)],
        arguments: [String(orderId)],
      });
      return deleted === 1;
    },
    async *scan() {
      // The prefix and vehicle keys carry no glob characters (both are validated), so MATCH is exact.
      for await (const keys of redis.scanIterator({ MATCH: `${namespace}*`, COUNT: 200 })) {
        if (keys.length > 0) yield await inspect(keys);
      }
    },
  };
}
