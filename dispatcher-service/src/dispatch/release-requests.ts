import { AppError, type Db, type RetentionRule } from '@delivery/common';

/** An answer as the route sends it: what a repeat with the same Idempotency-Key gets again. */
export interface StoredAnswer {
  status: number;
  body: unknown;
}

export interface IdempotentOutcome {
  answer: StoredAnswer;
  /** True when the answer is an earlier request's, given again. */
  replayed: boolean;
}

export interface IdempotencyOptions {
  /** How long a repeat waits for the first request of its key to finish before answering 409. */
  waitMs?: number;
  /** A key whose first request has not finished after this long was abandoned (a crash): taken over. */
  staleMs?: number;
  pollMs?: number;
}

/**
 * Idempotency-Key for releases (the IETF httpapi draft's semantics): the first request with a
 * key runs, and its answer — a 200 or a 4xx — is kept in MySQL, so every later request with the
 * same key, on any instance, gets that answer again and releases nothing. A request with the
 * key while the first still runs waits for its answer (in this process without a round trip).
 * A 5xx or a failure is not kept: the release did not happen, and a retry with the key runs it.
 * The same key for a different release is refused (422).
 */
export function idempotentRequests(db: Db, options: IdempotencyOptions = {}) {
  const { waitMs = 10_000, staleMs = 30_000, pollMs = 25 } = options;
  const running = new Map<string, { fingerprint: string; answer: Promise<StoredAnswer> }>();

  async function firstAnswer(key: string, fingerprint: string, run: () => Promise<unknown>) {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (await claim(db, key, fingerprint, staleMs))
        return { answer: await runAndKeep(key, run), replayed: false };
      const row = await findRequest(db, key);
      if (!row) continue; // its first request failed and let the key go: claim it again
      if (row.fingerprint !== fingerprint) throw keyReused(key);
      if (row.status_code !== null)
        return {
          answer: { status: row.status_code, body: JSON.parse(row.response ?? 'null') },
          replayed: true,
        };
      if (Date.now() >= deadline)
        throw new AppError(
          'request_in_progress',
          `The request with Idempotency-Key ${key} is still running`,
          409,
        );
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  async function runAndKeep(key: string, run: () => Promise<unknown>): Promise<StoredAnswer> {
    let answer: StoredAnswer;
    try {
      answer = { status: 200, body: await run() };
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) {
        await forgetRequest(db, key).catch(() => undefined);
        throw err;
      }
      answer = { status: err.status, body: { error: { code: err.code, message: err.message } } };
    }
    await keepAnswer(db, key, answer);
    return answer;
  }

  return async function once(
    key: string,
    fingerprint: string,
    run: () => Promise<unknown>,
  ): Promise<IdempotentOutcome> {
    const local = running.get(key);
    if (local) {
      if (local.fingerprint !== fingerprint) throw keyReused(key);
      return { answer: await local.answer, replayed: true };
    }
    const outcome = firstAnswer(key, fingerprint, run);
    const answer = outcome.then((o) => o.answer);
    // Only the requests that join it look at its failure; the first one gets it from `outcome`.
    answer.catch(() => undefined);
    running.set(key, { fingerprint, answer });
    try {
      return await outcome;
    } finally {
      running.delete(key);
    }
  };
}

/** The stored answer as a thrown error or a body, as the route sends it. */
export function replay({ status, body }: StoredAnswer): unknown {
  if (status < 400) return body;
  const { error } = body as { error: { code: string; message: string } };
  throw new AppError(error.code, error.message, status);
}

function keyReused(key: string): AppError {
  return new AppError(
    'idempotency_key_reused',
    `Idempotency-Key ${key} was used for a different request`,
    422,
  );
}

interface RequestRow {
  fingerprint: string;
  status_code: number | null;
  response: string | null;
}

/** Takes the key for this request: true when it is new, or its first request was abandoned. */
async function claim(db: Db, key: string, fingerprint: string, staleMs: number): Promise<boolean> {
  const [inserted] = (await db.raw(
    'INSERT IGNORE INTO release_requests (idempotency_key, fingerprint) VALUES (?, ?)',
    [key, fingerprint],
  )) as [{ affectedRows: number }];
  if (inserted.affectedRows === 1) return true;
  const [taken] = (await db.raw(
    `UPDATE release_requests SET created_at = NOW(3)
     WHERE idempotency_key = ? AND fingerprint = ? AND completed_at IS NULL AND created_at < NOW(3) - INTERVAL ? MICROSECOND`,
    [key, fingerprint, staleMs * 1_000],
  )) as [{ affectedRows: number }];
  return taken.affectedRows === 1;
}

async function findRequest(db: Db, key: string): Promise<RequestRow | undefined> {
  const [rows] = (await db.raw(
    'SELECT fingerprint, status_code, response FROM release_requests WHERE idempotency_key = ?',
    [key],
  )) as [RequestRow[]];
  return rows[0];
}

async function keepAnswer(db: Db, key: string, answer: StoredAnswer): Promise<void> {
  await db.raw(
    'UPDATE release_requests SET status_code = ?, response = ?, completed_at = NOW(3) WHERE idempotency_key = ?',
    [answer.status, JSON.stringify(answer.body), key],
  );
}

async function forgetRequest(db: Db, key: string): Promise<void> {
  await db.raw('DELETE FROM release_requests WHERE idempotency_key = ? AND completed_at IS NULL', [key]);
}

/** A key is honoured this long: a client retrying a release retries within minutes, not days. */
export const KEY_RETENTION_MS = 24 * 60 * 60 * 1_000;

/** Expired Idempotency-Key answers, for the retention job (index release_requests_created_idx). */
export const releaseRequestsRule: RetentionRule = {
  table: 'release_requests',
  column: 'created_at',
  keepMs: KEY_RETENTION_MS,
};
