import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cityKey, cityName } from '@delivery/common';

const KOBE_PRECOMPOSED = 'K\u014Dbe';
const KOBE_COMBINING = 'Ko\u0304be';

describe('cityKey: when two cities are the same', () => {
  for (const [a, b] of [
    ['colombo ', 'Colombo'],
    ['  New   York ', 'new york'],
    ['KOBE', 'kobe'],
    [KOBE_COMBINING, KOBE_PRECOMPOSED],
  ] as [string, string][]) {
    it(`${JSON.stringify(a)} and ${JSON.stringify(b)} have the same key`, () => {
      assert.equal(cityKey(a), cityKey(b));
    });
  }

  it('"Kobe" and "Kōbe" have different keys', () => {
    assert.notEqual(cityKey('Kobe'), cityKey(KOBE_PRECOMPOSED));
  });

  it('folds exactly as the keys already stored: NFC, trim, spaces collapsed, lower case', () => {
    assert.equal(cityKey(`  ${KOBE_COMBINING}\t  Port `), 'k\u014Dbe port');
  });
});

describe('cityName: the one valid city of every service', () => {
  const refusal = (city: unknown) => {
    const result = cityName.safeParse(city);
    assert.equal(result.success, false, `${JSON.stringify(city)} is refused`);
    return result.error!.issues.map((i) => i.message).join('; ');
  };

  it('a city is trimmed and stored in NFC', () => {
    assert.equal(cityName.parse(`  ${KOBE_COMBINING} `), KOBE_PRECOMPOSED);
  });

  it('100 emoji (200 UTF-16 units, 100 code points) fit the column and are accepted as sent', () => {
    const city = '\u{1F600}'.repeat(100);
    assert.equal(cityName.parse(city), city);
  });

  it('100 characters are accepted, 101 refused', () => {
    assert.equal(cityName.parse('c'.repeat(100)), 'c'.repeat(100));
    assert.match(refusal('c'.repeat(101)), /at most 100 characters/);
  });

  it('a city whose lower case is over 100 characters ("İ" × 60 folds to 120) is refused, saying so', () => {
    assert.equal(cityKey('\u0130'.repeat(60)).length, 120);
    assert.match(refusal('\u0130'.repeat(60)), /at most 100 characters once case-folded/);
  });

  it('a city whose NFC form is over 100 characters is refused even when it was sent shorter', () => {
    // U+FB2C (HEBREW LETTER SHIN WITH DAGESH AND SHIN DOT) is 1 code point that NFC turns into 3.
    assert.equal('\uFB2C'.normalize('NFC').length, 3);
    assert.match(refusal('\uFB2C'.repeat(40)), /at most 100 characters/);
  });

  for (const [what, city] of [
    ['empty', ''],
    ['only spaces', '   '],
    ['a newline inside', 'Colombo\nKandy'],
    ['a NUL', 'Colombo\u0000'],
    ['an unpaired surrogate', 'Colombo\uD800'],
    ['not a string', 42],
  ] as [string, unknown][]) {
    it(`${what} is refused`, () => {
      refusal(city);
    });
  }
});
