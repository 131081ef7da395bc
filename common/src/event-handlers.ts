import type { Envelope, EventType } from './events.js';

/** Thrown by a handler for a message that can never succeed: it goes to the DLQ, not to retry. */
export class PoisonMessageError extends Error {
  override name = 'PoisonMessageError';
}

export interface EventHandler<T extends EventType = EventType> {
  type: T;
  handle(event: Envelope<T>): Promise<void>;
  /**
   * Optional: the valid events of what was fetched (one or more partitions, each in offset
   * order; one order's events are always in one partition) at once, so a handler can apply
   * them in one transaction. It must be all or nothing: when it throws, the loop calls it again
   * on halves of those events (down to the one that fails, which then goes through `handle`),
   * or after a transient failure handles them one at a time through `handle`.
   */
  handleBatch?(events: Envelope<T>[]): Promise<void>;
}

/** Keeps the type of each handler's event tied to its topic. */
export function onEvent<T extends EventType>(
  type: T,
  handle: (event: Envelope<T>) => Promise<void>,
): EventHandler<T> {
  return { type, handle };
}

/** A handler that takes a batch; a single event is a batch of one (see EventHandler.handleBatch). */
export function onEvents<T extends EventType>(
  type: T,
  handleBatch: (events: Envelope<T>[]) => Promise<void>,
): EventHandler<T> {
  return { type, handle: (event) => handleBatch([event]), handleBatch };
}
