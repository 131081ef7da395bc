/**
 * The normalized forms every lookup uses: a city matches case-insensitively with spaces trimmed
 * ("  colombo " = "Colombo"), a vehicle number is unique case-insensitively and names its lock.
 */
export function cityKey(city: string): string {
  return city.trim().replace(/\s+/g, ' ').toLowerCase();
}

export function vehicleKey(vehicleNumber: string): string {
  return vehicleNumber.trim().replace(/\s+/g, ' ').toUpperCase();
}
