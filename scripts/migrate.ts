/**
 * Creates each service's database if missing and applies its migrations.
 *   tsx scripts/migrate.ts              all three, default names
 *   tsx scripts/migrate.ts --suffix _test   the test databases
 */
import { fileURLToPath } from 'node:url';
import { prepareDatabase } from '@delivery/common';
import { loadConfig as orderConfig } from '../order-service/src/config.js';
import { loadConfig as inventoryConfig } from '../inventory-service/src/config.js';
import { loadConfig as dispatcherConfig } from '../dispatcher-service/src/config.js';

export const SERVICES = [
  { name: 'order-service', dir: 'order', config: orderConfig },
  { name: 'inventory-service', dir: 'inventory', config: inventoryConfig },
  { name: 'dispatcher-service', dir: 'dispatcher', config: dispatcherConfig },
] as const;

export function migrationsDir(dir: string): string {
  return fileURLToPath(new URL(`../migrations/${dir}`, import.meta.url));
}

async function main(): Promise<void> {
  const suffixAt = process.argv.indexOf('--suffix');
  const suffix = suffixAt > 0 ? (process.argv[suffixAt + 1] ?? '') : '';
  for (const service of SERVICES) {
    const config = service.config();
    const database = `${config.MYSQL_DATABASE}${suffix}`;
    const applied = await prepareDatabase({ url: config.MYSQL_URL, database }, migrationsDir(service.dir));
    console.log(`${service.name}: database ${database} up to date (${applied.length} migration(s) applied)`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
