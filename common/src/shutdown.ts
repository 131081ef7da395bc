import type { Logger } from './logger.js';

export type ShutdownStep = [name: string, step: () => Promise<void>];

/**
 * SIGTERM/SIGINT: run the steps in order (stop intake first, close connections last), then
 * exit 0. A second signal or a stuck step forces exit 1 after the grace period.
 */
export function onShutdown(logger: Logger, steps: ShutdownStep[], graceMs = 15_000): void {
  let started = false;
  const shutdown = async (signal: string) => {
    if (started) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    started = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error('shutdown timed out');
      process.exit(1);
    }, graceMs);
    timer.unref();
    let code = 0;
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        code = 1;
        logger.error({ err, step: name }, 'shutdown step failed');
      }
    }
    logger.info('shutdown complete');
    logger.flush();
    setImmediate(() => process.exit(code));
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
