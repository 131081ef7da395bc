/**
 * Money, exactly. MySQL holds DECIMAL(12,2) (read back as "49.99"), events carry decimal strings
 * (common/src/events.ts), and the HTTP API speaks JSON numbers (49.99) as in the assignment's
 * example. Sums are done in integer cents; a JSON number is turned into cents through its
 * shortest decimal form, so 1.1 is 110 cents and 1.234 is refused, with no float arithmetic.
 */
const DECIMAL = /^(\d{1,10})(?:\.(\d{1,2}))?$/;

/** "49.99" → 4999; throws on anything that is not a non-negative amount with at most 2 decimals. */
export function toCents(decimal: string): number {
  const match = DECIMAL.exec(decimal);
  if (!match) throw new Error(`Not a money amount: ${JSON.stringify(decimal)}`);
  return Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'));
}

/** Whether a JSON number has at most 2 decimals, judged on its shortest form (String(1.1) is "1.1"). */
export function hasAtMostTwoDecimals(amount: number): boolean {
  return DECIMAL.test(String(amount));
}

/** 49.99 → 4999; throws when the number is not a money amount (validate first). */
export function numberToCents(amount: number): number {
  return toCents(String(amount));
}

/** 4999 → "49.99", the form of the DECIMAL column and of events. */
export function formatCents(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

/** 4999 → 49.99: the double nearest the decimal, which JSON prints as exactly "49.99". */
export function centsToNumber(cents: number): number {
  return cents / 100;
}

/** An API amount (always cents / 100) back to its decimal string; the rounding only undoes the division. */
export function numberToMoneyString(amount: number): string {
  return formatCents(Math.round(amount * 100));
}
