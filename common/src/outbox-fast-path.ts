import type { OutboxMessage } from './outbox.js';
import type { PublishedMarks } from './outbox-marks.js';
import type { SendOutboxMessages } from './outbox-sender.js';

/**
 * Fast path: what committing callers handed over, sent from memory without reading the rows
 * back; what the broker acknowledged goes to the marks, which mark it published later.
 */
export interface FastPath {
  /** Takes what a committed transaction wrote, for the next round. */
  hand(messages: readonly OutboxMessage[]): void;
  /** Forgets what was handed over: the rows stay unpublished in the table, for the poll. */
  drop(): void;
  hasWaiting(): boolean;
  /** Sends up to `batchSize` of what was handed over, in one request. */
  sendNext(): Promise<void>;
  /** Sends everything handed over; stops at the first failure. */
  sendAll(): Promise<void>;
}

export function fastPath(send: SendOutboxMessages, marks: PublishedMarks, batchSize: number): FastPath {
  let fresh: OutboxMessage[] = [];

  async function sendNext(): Promise<void> {
    const messages = fresh.splice(0, batchSize);
    try {
      await send(messages);
    } catch (err) {
      // The rows stay unpublished in the table: the poll takes them once the broker is back.
      fresh = [];
      throw err;
    }
    // Only now: nothing is marked published before the broker acknowledged it.
    marks.acked(messages.map((m) => m.eventId));
  }

  return {
    hand(messages) {
      for (const message of messages) fresh.push(message);
    },
    drop() {
      fresh = [];
    },
    hasWaiting: () => fresh.length > 0,
    sendNext,
    async sendAll() {
      while (fresh.length > 0) await sendNext();
    },
  };
}
