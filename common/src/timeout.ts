/** Readiness probes answer quickly: a dependency that hangs is a dependency that is down. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout])
    .then(() => undefined)
    .finally(() => clearTimeout(timer));
}
