import { z } from 'zod';

/**
 * One definition of a city for every service (DESIGN.md §3 "Cities"), so a city one service
 * accepts never fails in another.
 *
 * Two cities are the same when their keys are: Unicode NFC (so "Kōbe" typed with a combining
 * macron is the one with the precomposed letter), trimmed, runs of spaces collapsed, lower case.
 * Accents stay ("Kobe" is not "Kōbe"). Keys are stored and compared byte for byte (utf8mb4_bin
 * columns); this folding must not change, or stored keys stop matching.
 */
export function cityKey(city: string): string {
  return city.normalize('NFC').trim().replace(/\s+/g, ' ').toLowerCase();
}

/** The city and key columns are VARCHAR(100) utf8mb4: 100 code points. */
export const CITY_MAX_CHARS = 100;

function codePoints(text: string): number {
  // A code point is one or two UTF-16 units: only a string longer than the limit needs counting.
  if (text.length <= CITY_MAX_CHARS) return text.length;
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/**
 * A city as a request or an event carries it: trimmed and put in NFC (the form stored and sent
 * on), 1 to 100 characters counted in code points, the columns' unit. Lower case can be longer
 * than the city ('İ' folds to 'i' + a combining dot), so the key is held to the same limit.
 * Control characters and unpaired surrogates are refused: MySQL would store a lone surrogate as
 * U+FFFD, so the city would not come back as it was sent.
 */
export const cityName = z
  .string()
  .overwrite((city) => city.normalize('NFC'))
  .trim()
  .min(1, 'must not be empty')
  .max(CITY_MAX_CHARS, `must be at most ${CITY_MAX_CHARS} characters`)
  .regex(/^[^\p{Cc}\p{Cs}]*$/u, 'must not contain control characters or unpaired surrogates')
  .refine((city) => codePoints(cityKey(city)) <= CITY_MAX_CHARS, {
    message: `must be at most ${CITY_MAX_CHARS} characters once case-folded (the form cities are matched by)`,
    // Only for a city that passed the checks above: an over-long one is already refused as such.
    when: (payload) => payload.issues.length === 0,
  });
