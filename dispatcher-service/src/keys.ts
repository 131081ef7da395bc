/**
 * A vehicle number's normalized form: unique case-insensitively with spaces trimmed and
 * collapsed, and the name of its lock. (A city's key is cityKey() of @delivery/common: every
 * service matches cities alike.)
 */
export function vehicleKey(vehicleNumber: string): string {
  return vehicleNumber.trim().replace(/\s+/g, ' ').toUpperCase();
}
