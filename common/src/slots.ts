export interface Slots {
  acquire(): Promise<void>;
  release(): void;
}

/** A counting semaphore: at most `size` holders at once. */
export function slots(size: number): Slots {
  let free = size;
  const queue: (() => void)[] = [];
  return {
    async acquire(): Promise<void> {
      if (free > 0) {
        free -= 1;
        return;
      }
      await new Promise<void>((resolve) => queue.push(resolve));
    },
    release(): void {
      const next = queue.shift();
      if (next) next();
      else free += 1;
    },
  };
}
