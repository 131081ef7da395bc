/**
 * The normalized forms every lookup uses: a city matches case-insensitively with spaces trimmed
 * ("  colombo " = "Colombo"), a vehicle number is unique case-insensitively and names its lock.
 * Keys are compared byte for byte in MySQL, so a city is also put in Unicode NFC: "Kōbe" typed
 * with a combining macron is the same city as with the precomposed letter.
 */
export function cityKey(city: string): string {
  return city.normalize('NFC').trim().replace(/\s+/g, ' ').toLowerCase();
}

export function vehicleKey(vehicleNumber: string): string {
  return vehicleNumber.trim().replace(/\s+/g, ' ').toUpperCase();
}
