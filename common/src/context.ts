import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/**
 * The correlation id of the flow being served: the x-request-id of the HTTP request that
 * started it, carried on in every event envelope. Kept in async context so that every log
 * line and every outbox row written while serving the flow picks it up without threading it
 * through each call.
 */
interface FlowContext {
  correlationId: string;
}

const storage = new AsyncLocalStorage<FlowContext>();

export function runWithCorrelationId<T>(correlationId: string, fn: () => T): T {
  return storage.run({ correlationId }, fn);
}

export function currentCorrelationId(): string | undefined {
  return storage.getStore()?.correlationId;
}

export function newCorrelationId(): string {
  return randomUUID();
}
